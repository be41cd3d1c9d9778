import type { Rng } from "../rng.ts";
import { keepAbsRankRange } from "./rank.ts";

/** Sparsifiers of one model's task vector δ, in place. Each is a no-op when density ≥ 1. */

/** TIES: keep the ⌊density·n⌋ largest |δ| over the whole flattened tensor. */
export function keepTopMagnitude(delta: Float32Array, density: number): void {
  if (density >= 1 || delta.length === 0) return;
  const k = Math.floor(density * delta.length);
  if (k <= 0) throw new Error(`density ${density} keeps no entry of ${delta.length} (⌊density·numel⌋ = 0)`);
  keepAbsRankRange(delta, delta.length - k, delta.length);
}

const RANDOM_BLOCK = 4096;

/** DARE: keep each entry with probability `density` (the keep probability, not the drop rate). */
export function dropRandom(delta: Float32Array, density: number, rng: Rng): void {
  if (density >= 1) return;
  // Keep when the top 31 random bits fall below density·2^31 (u < density); decided without branches, as
  // a coin flip per entry would mispredict half the time.
  const threshold = Math.floor(density * 2147483648);
  const random = new Uint32Array(RANDOM_BLOCK);
  const bits = new Int32Array(delta.buffer, delta.byteOffset, delta.length);
  for (let start = 0; start < delta.length; start += RANDOM_BLOCK) {
    rng.fillUint32(random);
    const end = Math.min(delta.length, start + RANDOM_BLOCK);
    for (let i = start; i < end; i++) bits[i] = bits[i]! & (((random[i - start]! >>> 1) - threshold) >> 31);
  }
}

/**
 * Breadcrumbs: drop the smallest and the ⌊gamma·n⌋ largest |δ|, keeping ⌊density·n⌋ in between.
 * mergekit slices with a negative upper index, so n_top = 0 keeps nothing: reproduced on purpose.
 */
export function keepMagnitudeBand(delta: Float32Array, density: number, gamma: number): void {
  if (density >= 1) return;
  const n = delta.length;
  const target = Math.floor(density * n);
  let top = Math.floor(gamma * n);
  let bottom = n - target - top;
  if (bottom < 0) {
    top += bottom;
    bottom = 0;
  }
  if (top <= 0) {
    delta.fill(0);
    return;
  }
  keepAbsRankRange(delta, bottom, n - top);
}

/**
 * DELLA (MAGPRUNE): per row, rank |δ| ascending; the keep probability rises linearly with rank from
 * density − ε to density + ε. A 1-D tensor is one row.
 */
export function dropByMagnitudeRank(delta: Float32Array, rowLength: number, density: number, epsilon: number, rng: Rng): void {
  if (density >= 1) return;
  if (density <= 0) {
    delta.fill(0);
    return;
  }
  const rows = delta.length / rowLength;
  const order = sortScratch(rowLength);
  const bits = new Int32Array(delta.buffer, delta.byteOffset, delta.length);
  const span = rowLength > 1 ? rowLength - 1 : 1;
  for (let r = 0; r < rows; r++) {
    const start = r * rowLength;
    // Sort (|δ| bits, column) pairs packed in one float64: native numeric sort, no comparator.
    for (let c = 0; c < rowLength; c++) order[c] = (bits[start + c]! & 0x7fffffff) * 2097152 + c;
    order.sort();
    const keep = new Uint8Array(rowLength);
    for (let rank = 0; rank < rowLength; rank++) {
      const p = density - epsilon + (2 * epsilon * rank) / span;
      keep[order[rank]! % 2097152] = rng.next() < p ? 1 : 0;
    }
    for (let c = 0; c < rowLength; c++) if (!keep[c]) delta[start + c] = 0;
  }
}

function sortScratch(rowLength: number): Float64Array {
  if (rowLength > 2097152) throw new Error(`rows of ${rowLength} entries are too long for DELLA ranking (max 2097152)`);
  return new Float64Array(rowLength);
}

export function l1Norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs(values[i]!);
  return sum;
}

/**
 * mergekit ≥ 0.1.0 rescale: the factor that brings the sparsified δ back to the original's L1 norm, or 1 when
 * either norm is below 1e-7.
 */
export function l1RescaleFactor(originalL1: number, keptL1: number): number {
  return originalL1 < 1e-7 || keptL1 < 1e-7 ? 1 : originalL1 / keptL1;
}
