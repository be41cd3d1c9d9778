import { keepAbsRankRange } from "../math/rank.ts";
import { defineMethod, num } from "./types.ts";

/**
 * SCE (select, calculate, erase) on task vectors τᵢ = Mᵢ − B:
 * 1. select_topk < 1: keep, in every τᵢ, the positions whose variance across models is among the top
 *    ⌊count_nonzero(var)·select_topk⌋, and zero the rest;
 * 2. weights ωᵢ = mean(τᵢ²)/Σⱼ mean(τⱼ²), computed after the selection;
 * 3. erase: TIES "sum" sign election on the unweighted τᵢ (Σ τ ≥ 0 counts as +, zeros never agree);
 * 4. B + Σ ωᵢ·maskᵢ·τᵢ / max(Σ ωᵢ·maskᵢ, 1e-6).
 * mergekit has no per-model weight or density here; the base is required.
 */
export const sce = defineMethod({
  name: "sce",
  title: "SCE",
  url: "https://arxiv.org/abs/2408.07990",
  base: "required",
  shapes: "common",
  params: {
    select_topk: { scope: "global", type: "number", default: 1 },
    // Only the dtype of mergekit's internal masks: accepted, with no numeric effect.
    int8_mask: { scope: "global", type: "boolean", default: false },
  },
  checkInputs: ({ base }) => (!base ? "sce needs a base model" : undefined),
  merge({ base, models, global }) {
    const b = base!;
    if (models.length === 0) return b;
    const n = b.length;
    for (const m of models) for (let j = 0; j < n; j++) m[j] = m[j]! - b[j]!;
    const topk = num(global, "select_topk");
    // select_topk ≤ 0, a single model (zero variance everywhere) or k = 0 erase every τ: the result is the base.
    if (topk < 1 && !selectByVariance(models, n, topk)) return b;
    const weights = meanSquareWeights(models, n);
    const count = models.length;
    for (let j = 0; j < n; j++) {
      let total = 0;
      for (let i = 0; i < count; i++) total += models[i]![j]!;
      const positive = total >= 0;
      let mixed = 0;
      let divisor = 0;
      for (let i = 0; i < count; i++) {
        const t = models[i]![j]!;
        if (positive ? t > 0 : t < 0) {
          mixed += weights[i]! * t;
          divisor += weights[i]!;
        }
      }
      b[j] = b[j]! + mixed / Math.max(divisor, 1e-6);
    }
    return b;
  },
});

/**
 * Zeroes, in every task vector, the positions outside the top-k by variance across models (population
 * variance). Returns false when nothing is kept. Ties at the k-th variance are kept in position order
 * (mergekit's topk order is arbitrary).
 */
function selectByVariance(tvs: Float32Array[], n: number, topk: number): boolean {
  if (topk <= 0) return false;
  const count = tvs.length;
  const variance = new Float32Array(n);
  let nonzero = 0;
  for (let j = 0; j < n; j++) {
    let mean = 0;
    for (let i = 0; i < count; i++) mean += tvs[i]![j]!;
    mean /= count;
    let sq = 0;
    for (let i = 0; i < count; i++) sq += (tvs[i]![j]! - mean) ** 2;
    variance[j] = sq / count;
    if (variance[j] !== 0) nonzero++;
  }
  // k = int(count_nonzero · select_topk), the product taken in float32 as torch does.
  const k = Math.trunc(Math.fround(Math.fround(nonzero) * Math.fround(topk)));
  if (k === 0) return false;
  // k ≤ the non-zero count, so every kept position has a non-zero variance and the rest become 0.
  keepAbsRankRange(variance, n - k, n);
  for (let j = 0; j < n; j++) if (variance[j] === 0) for (let i = 0; i < count; i++) tvs[i]![j] = 0;
  return true;
}

/** ωᵢ = mean(τᵢ²)/Σⱼ mean(τⱼ²); uniform when that sum is below 1e-6 (so small fine-tune deltas weigh equally). */
function meanSquareWeights(tvs: Float32Array[], n: number): number[] {
  const means = tvs.map((t) => {
    let sq = 0;
    for (let j = 0; j < n; j++) sq += t[j]! * t[j]!;
    return n ? sq / n : NaN;
  });
  const sum = means.reduce((a, b) => a + b, 0);
  if (!(Math.abs(sum) >= 1e-6)) return means.map(() => 1 / tvs.length);
  return means.map((m) => m / sum);
}
