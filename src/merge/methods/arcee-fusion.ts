import type { Rng } from "../rng.ts";
import { defineMethod } from "./types.ts";

/** Above this many elements mergekit reads the quantiles from a random sample of this size. */
const SAMPLE = 1_000_000;

/**
 * Arcee Fusion: keep the other model's change only where it matters most. importance = |M − B| · KL(p‖q) with
 * p = softmax(M) + 1e-8 and q = softmax(B) + 1e-8 over the last dimension (one KL per row; a 1-D tensor is one
 * row); threshold = median + 1.5·IQR; result = B + (M − B)·[importance ≥ threshold].
 * mergekit's quirks, kept: quantiles are read by index, sorted[⌊q·(n−1)⌋], without interpolation; the median
 * and the quartiles come from two separate random samples of 1e6 elements above 1e6 (seeded here per tensor,
 * unseeded in mergekit); a threshold of 0 (most importances 0) keeps every change. No parameters; base required.
 */
export const arceeFusion = defineMethod({
  name: "arcee_fusion",
  title: "Arcee Fusion",
  url: "https://arcee.ai",
  base: "required",
  shapes: "common",
  params: {},
  random: true,
  checkInputs: ({ models, base }) =>
    models > 1 || !base ? `arcee_fusion needs exactly two models, the base and one other (got ${models + (base ? 1 : 0)})` : undefined,
  merge({ base, models, shape, rng }) {
    const b = base!;
    const m = models[0];
    if (!m || b.length === 0) return b;
    const rowLength = shape.length >= 1 && shape[shape.length - 1]! > 0 ? shape[shape.length - 1]! : b.length;
    const kl = rowDivergences(m, b, rowLength);
    // Importance in float32, as mergekit computes it, so the sample and the mask compare the same numbers.
    const importance = (j: number) => Math.fround(Math.abs(m[j]! - b[j]!) * kl[Math.floor(j / rowLength)]!);
    const random = rng(0);
    const median = quantiles(sortedSample(importance, b.length, random), [0.5])[0]!;
    const [q1, q3] = quantiles(sortedSample(importance, b.length, random), [0.25, 0.75]) as [number, number];
    const threshold = Math.fround(median + Math.fround(1.5 * Math.fround(q3 - q1)));
    // B + (M − B)·mask, the difference taken in float32 as mergekit does.
    for (let j = 0; j < b.length; j++) if (importance(j) >= threshold) b[j] = b[j]! + Math.fround(m[j]! - b[j]!);
    return b;
  },
});

/** KL(softmax(M)+1e-8 ‖ softmax(B)+1e-8) per row of `rowLength` entries, in float64. */
function rowDivergences(m: Float32Array, b: Float32Array, rowLength: number): Float64Array {
  const rows = b.length / rowLength;
  const out = new Float64Array(rows);
  const p = new Float64Array(rowLength);
  const q = new Float64Array(rowLength);
  for (let r = 0; r < rows; r++) {
    const start = r * rowLength;
    softmaxInto(m, start, rowLength, p);
    softmaxInto(b, start, rowLength, q);
    let sum = 0;
    for (let c = 0; c < rowLength; c++) {
      const pc = p[c]! + 1e-8;
      sum += pc * Math.log(pc / (q[c]! + 1e-8));
    }
    out[r] = sum;
  }
  return out;
}

function softmaxInto(x: Float32Array, start: number, length: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < length; c++) max = Math.max(max, x[start + c]!);
  let sum = 0;
  for (let c = 0; c < length; c++) sum += out[c] = Math.exp(x[start + c]! - max);
  for (let c = 0; c < length; c++) out[c] = out[c]! / sum;
}

/** Every value sorted, or above SAMPLE values a uniform random subset of SAMPLE of them (Floyd's algorithm). */
function sortedSample(value: (j: number) => number, n: number, rng: Rng): Float32Array {
  if (n <= SAMPLE) return Float32Array.from({ length: n }, (_, j) => value(j)).sort();
  const chosen = new Set<number>();
  for (let j = n - SAMPLE; j < n; j++) {
    const pick = Math.floor(rng.next() * (j + 1));
    chosen.add(chosen.has(pick) ? j : pick);
  }
  const sample = new Float32Array(SAMPLE);
  let i = 0;
  for (const j of chosen) sample[i++] = value(j);
  return sample.sort();
}

/** sorted[⌊q·(n−1)⌋] for each q: by index, no interpolation. */
function quantiles(sorted: Float32Array, qs: number[]): number[] {
  return qs.map((q) => sorted[Math.floor(q * (sorted.length - 1))]!);
}
