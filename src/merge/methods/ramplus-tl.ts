import { mergeRam, ramCounts } from "./ram.ts";
import { defineMethod, num } from "./types.ts";

/**
 * RAM+ (tensor-local): RAM, with each model's unique entries scaled by λᵢ = 1 + r·clamp(ρᵢ, 0, alpha), where
 * ρᵢ = (its active entries shared with another model) / max(its unique active entries, epsilon), counted per
 * tensor. Disjoint task vectors have ρ = 0, so they merge as in RAM. r, alpha and epsilon are global.
 */
export const ramplusTl = defineMethod({
  name: "ramplus_tl",
  title: "Reinforced Agent Merging Plus (Tensor-Local)",
  url: "https://arxiv.org/abs/2601.13572",
  base: "required",
  shapes: "common",
  params: {
    r: { scope: "global", type: "number", default: 0.1 },
    alpha: { scope: "global", type: "number", default: 0.2 },
    epsilon: { scope: "global", type: "number", default: 1e-5 },
  },
  checkInputs: ({ base }) => (!base ? "ramplus_tl needs a base model" : undefined),
  merge({ base, models, global }) {
    const epsilon = num(global, "epsilon");
    const r = num(global, "r");
    const alpha = num(global, "alpha");
    const { shared, unique } = ramCounts(base!, models, epsilon);
    // clamp(min = 0) is applied before the upper bound alpha, as torch.clamp does (alpha < 0 gives alpha).
    const lambdas = shared.map((s, i) => 1 + r * Math.min(alpha, Math.max(0, s / Math.max(unique[i]!, epsilon))));
    return mergeRam(base!, models, epsilon, lambdas);
  },
});
