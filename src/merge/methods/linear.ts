import { combinePairInPlace } from "../math/combine.ts";
import { bool, defineMethod, num } from "./types.ts";

/** r = Σ wᵢ·Mᵢ, divided by Σ wᵢ when `normalize` (the default). The base, if any, is just another input. */
export const linear = defineMethod({
  name: "linear",
  title: "Linear",
  url: "https://arxiv.org/abs/2203.05482",
  base: "input",
  shapes: "common",
  params: {
    weight: { scope: "model", type: "number", required: true },
    normalize: { scope: "global", type: "boolean", default: true },
  },
  checkInputs: ({ models }) => (models < 1 ? "linear needs at least one model with a weight" : undefined),
  checkParams: (global, perModel) => {
    const sum = perModel.reduce((s, p) => s + num(p, "weight"), 0);
    return bool(global, "normalize") && sum === 0 ? "weights sum to 0 with normalize: true (set normalize: false)" : undefined;
  },
  merge({ models, perModel, global }) {
    const weights = perModel.map((p) => num(p, "weight"));
    const divisor = bool(global, "normalize") ? weights.reduce((a, b) => a + b, 0) : 1;
    const out = models[0]!;
    const scale = weights.map((w) => w / divisor);
    if (models.length === 2) {
      // The common two-model case without the inner loop: about twice as fast.
      const [w0, w1] = scale as [number, number];
      combinePairInPlace(out, models[1]!, w0, w1);
      return out;
    }
    const n = models.length;
    for (let j = 0; j < out.length; j++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += scale[i]! * models[i]![j]!;
      out[j] = sum;
    }
    return out;
  },
});
