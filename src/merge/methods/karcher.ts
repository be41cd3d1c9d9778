import { combineInto, gramMatrix, gramProduct } from "../math/gram.ts";
import { defineMethod, num } from "./types.ts";

/**
 * Karcher (Riemannian) mean of the flattened tensors' directions on the unit sphere, rescaled to their mean
 * norm. mergekit's choices, kept: equal weights 1/N (`weight` is not read), and a `base_model` is just another
 * input (its tensor joins the mean; there are no task vectors).
 *
 * The iterate always lies in the span of the unit inputs, so it is kept as N coefficients over their Gram matrix:
 * the same steps as mergekit's, on N×N numbers instead of whole tensors, and one pass to write the result.
 */
export const karcher = defineMethod({
  name: "karcher",
  title: "Karcher Mean",
  url: "https://en.wikipedia.org/wiki/Karcher_mean",
  base: "input",
  shapes: "common",
  params: {
    max_iter: { scope: "global", type: "number", default: 10, check: (v) => (Number.isInteger(v) ? undefined : `max_iter must be a whole number (got ${v})`) },
    tol: { scope: "global", type: "number", default: 1e-5 },
  },
  checkInputs: ({ models }) => (models < 1 ? "karcher needs at least one model" : undefined),
  merge({ models, global }) {
    if (models.length === 1) return models[0]!;
    const maxIter = num(global, "max_iter");
    const tol = num(global, "tol");
    const gram = gramMatrix(models);
    const norms = models.map((_, i) => Math.sqrt(gram[i]![i]!));
    const out = models[0]!;
    // `tol` doubles as the norm below which an input has no direction (it still counts in the final scale).
    const valid = norms.flatMap((n, i) => (n > tol ? [i] : []));
    if (valid.length === 0) return out.fill(0);
    const v = valid.length;
    const alpha = 1 / v;
    // Gram matrix of the unit vectors ûᵢ = xᵢ/‖xᵢ‖ of the valid inputs; the iterate is u = Σ c_k û_k.
    const unit = valid.map((i) => Float64Array.from(valid, (k) => gram[i]![k]! / (norms[i]! * norms[k]!)));
    const norm = (c: ArrayLike<number>) => Math.sqrt(Math.max(0, gramProduct(unit, c, c)));
    // Start from the normalised mean of the unit vectors, or the first of them if that mean is (nearly) zero.
    let c = new Float64Array(v).fill(alpha);
    const start = norm(c);
    if (start < tol) c = Float64Array.from({ length: v }, (_, k) => (k === 0 ? 1 : 0));
    else c = c.map((x) => x / start);
    for (let iter = 0; iter < maxIter; iter++) {
      // T = Σ α (θᵢ/sin θᵢ)(ûᵢ − cos θᵢ·u), skipping inputs already within tol of u.
      const tangent = new Float64Array(v);
      let along = 0;
      for (let i = 0; i < v; i++) {
        let dot = 0;
        for (let k = 0; k < v; k++) dot += unit[i]![k]! * c[k]!;
        dot = Math.min(1, Math.max(-1, dot));
        const theta = Math.acos(dot);
        if (theta < tol) continue;
        const f = (alpha * theta) / Math.sin(theta);
        tangent[i] = tangent[i]! + f;
        along += f * dot;
      }
      for (let k = 0; k < v; k++) tangent[k] = tangent[k]! - along * c[k]!;
      const tNorm = norm(tangent);
      if (tNorm < tol) break;
      // Exponential map: u ← cos‖T‖·u + sin‖T‖·T/‖T‖, renormalised unless (nearly) zero.
      const cos = Math.cos(tNorm);
      const sin = Math.sin(tNorm) / tNorm;
      c = c.map((x, k) => cos * x + sin * tangent[k]!);
      const uNorm = norm(c);
      if (uNorm > tol) c = c.map((x) => x / uNorm);
    }
    // Scale: Σ (1/N)·‖xᵢ‖ over all inputs, zero-norm ones included.
    const scale = norms.reduce((s, n) => s + n, 0) / models.length;
    const coefficients = models.map(() => 0);
    valid.forEach((i, k) => (coefficients[i] = (scale * c[k]!) / norms[i]!));
    combineInto(out, models, coefficients);
    return out;
  },
});
