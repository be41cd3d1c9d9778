import { combineInto, gramMatrix, gramProduct } from "../math/gram.ts";
import { bool, defineMethod, num } from "./types.ts";

/**
 * Multi-SLERP: barycentric interpolation on the hypersphere, one direction per flattened tensor (or task vector,
 * with a base). Unit vectors uᵢ = xᵢ/(‖xᵢ‖+eps), m = Σ wᵢuᵢ, m̂ = m/‖m‖; the tangent sum τ = Σ wᵢ(uᵢ − (uᵢ·m̂)m̂);
 * r = (m̂·cos ν + τ·sin ν/ν)·Σ wᵢ‖xᵢ‖ with ν = ‖τ‖ + eps, then the base added back.
 *
 * Everything lies in the span of the inputs, so it runs on their Gram matrix and writes the result in one pass.
 * mergekit's quirk, kept: τ is projected at m̂ itself, so τ = m − ‖m‖m̂ = 0 up to rounding and the result is the
 * weighted mean direction (a normalised lerp, not a slerp, for two inputs at t ≠ ½) at the weighted mean norm.
 */
export const multislerp = defineMethod({
  name: "multislerp",
  title: "Multi-SLERP",
  url: "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea",
  // The base is optional and never among the inputs; its weight, if any, is unused (as in mergekit).
  base: "optional",
  shapes: "common",
  params: {
    weight: { scope: "model", type: "number", required: true },
    normalize_weights: { scope: "global", type: "boolean", default: true },
    eps: { scope: "global", type: "number", default: 1e-8 },
  },
  checkInputs: ({ models }) => (models < 1 ? "multislerp needs at least one model besides the base" : undefined),
  checkParams: (global, perModel) => {
    // mergekit divides by Σw unguarded (inf/NaN); a lone model is returned before the weights are read.
    const sum = perModel.reduce((s, p) => s + num(p, "weight"), 0);
    return perModel.length > 1 && bool(global, "normalize_weights") && sum === 0
      ? "weights sum to 0 with normalize_weights: true (set normalize_weights: false)"
      : undefined;
  },
  merge({ base, models, perModel, global }) {
    // One model: returned as it is, whatever its weight and the base (mergekit returns before any math).
    if (models.length === 1) return models[0]!;
    const eps = num(global, "eps");
    let weights = perModel.map((p) => num(p, "weight"));
    if (bool(global, "normalize_weights")) {
      const sum = weights.reduce((a, b) => a + b, 0);
      weights = weights.map((w) => w / sum);
    }
    if (base) for (const x of models) for (let j = 0; j < x.length; j++) x[j] = x[j]! - base[j]!;
    const gram = gramMatrix(models);
    const norms = models.map((_, i) => Math.sqrt(gram[i]![i]!));
    // m = Σ aᵢxᵢ with aᵢ = wᵢ/(‖xᵢ‖ + eps): eps is added to each norm, not a floor.
    const a = weights.map((w, i) => w / (norms[i]! + eps));
    const mNorm = Math.sqrt(Math.max(0, gramProduct(gram, a, a)));
    const out = models[0]!;
    if (mNorm < eps) {
      // Directions that cancel: two inputs fall back to w₀x₀ + w₁x₁; more is an error, as in mergekit (this
      // includes every input equal to the base, for three or more models).
      if (models.length !== 2) {
        throw new Error("the weighted sum of the unit vectors is zero (antipodal inputs whose weights balance, or all inputs equal to the base); mergekit raises here too");
      }
      combineInto(out, models, weights, base);
      return out;
    }
    // uᵢ·m̂ = (xᵢ·m)/((‖xᵢ‖+eps)‖m‖); τ = m − c·m̂ with c = Σ wᵢ(uᵢ·m̂), so τ = (1 − c/‖m‖)·m.
    let c = 0;
    models.forEach((_, i) => {
      let xm = 0;
      for (let k = 0; k < models.length; k++) xm += gram[i]![k]! * a[k]!;
      c += (weights[i]! * xm) / ((norms[i]! + eps) * mNorm);
    });
    const tauScale = 1 - c / mNorm;
    const nu = Math.abs(tauScale) * mNorm + eps;
    const scale = weights.reduce((s, w, i) => s + w * norms[i]!, 0);
    // r = S·(m/‖m‖·cos ν + τ·sin ν/ν) = S·(cos ν/‖m‖ + (1 − c/‖m‖)·sin ν/ν)·Σ aᵢxᵢ.
    const factor = scale * (Math.cos(nu) / mNorm + (tauScale * Math.sin(nu)) / nu);
    combineInto(out, models, a.map((ai) => factor * ai), base);
    return out;
  },
});
