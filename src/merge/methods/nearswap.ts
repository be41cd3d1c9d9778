import { defineMethod, num } from "./types.ts";

/**
 * NearSwap: per element, w = clamp(t / max(|B − M|, 1e-6), 0, 1) and r = w·M + (1 − w)·B, so entries that
 * differ from the base by at most t take the other model's value and larger differences move the base by t.
 * t = 0 (or negative) gives the base; t ≥ the largest |B − M| gives the other model. `t` is global and
 * required; the base plus exactly one other model, as in mergekit (a tensor only the base has is the base).
 */
export const nearswap = defineMethod({
  name: "nearswap",
  title: "NearSwap",
  url: "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001",
  base: "required",
  shapes: "common",
  params: { t: { scope: "global", type: "number", required: true } },
  checkInputs: ({ models, base }) =>
    models > 1 || !base ? `nearswap needs exactly two models, the base and one other (got ${models + (base ? 1 : 0)})` : undefined,
  merge({ base, models, global }) {
    const a = base!;
    const b = models[0];
    if (!b) return a;
    const t = num(global, "t");
    for (let j = 0; j < a.length; j++) {
      const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(a[j]! - b[j]!), 1e-6)));
      a[j] = w * b[j]! + (1 - w) * a[j]!;
    }
    return a;
  },
});
