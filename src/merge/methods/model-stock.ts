import { bool, defineMethod } from "./types.ts";

/**
 * Model Stock: t = N·cos / (1 + (N−1)·cos) from the mean pairwise cosine of the task vectors,
 * result = t·mean(Mᵢ) + (1−t)·B. With `filter_wise`, one t per row.
 */
export const modelStock = defineMethod({
  name: "model_stock",
  title: "Model Stock",
  url: "https://arxiv.org/abs/2403.19522",
  base: "required",
  shapes: "base",
  params: { filter_wise: { scope: "global", type: "boolean", default: false } },
  checkInputs: ({ models, base }) =>
    !base || models < 2 ? `model_stock needs a base and at least two other models (got ${models} besides the base)` : undefined,
  merge({ base, models, global, shape }) {
    const b = base!;
    const rowLength = bool(global, "filter_wise") && shape.length >= 2 ? shape[shape.length - 1]! : b.length;
    for (let start = 0; start < b.length; start += rowLength) stockRow(b, models, start, start + rowLength);
    return b;
  },
});

function stockRow(base: Float32Array, models: Float32Array[], start: number, end: number): void {
  const n = models.length;
  const norms = models.map((m) => {
    let s = 0;
    for (let j = start; j < end; j++) s += (m[j]! - base[j]!) ** 2;
    return Math.sqrt(s);
  });
  let cosSum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let k = i + 1; k < n; k++) {
      let dot = 0;
      for (let j = start; j < end; j++) dot += (models[i]![j]! - base[j]!) * (models[k]![j]! - base[j]!);
      cosSum += dot / Math.max(norms[i]! * norms[k]!, 1e-6);
      pairs++;
    }
  }
  const cos = Math.min(1, Math.max(-1, cosSum / pairs));
  const t = (n * cos) / (1 + (n - 1) * cos);
  for (let j = start; j < end; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += models[i]![j]!;
    base[j] = (t * mean) / n + (1 - t) * base[j]!;
  }
}
