import { kernelsOf } from "../kernels/runtime.ts";
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

/**
 * DARE: keep each entry with probability `density` (the keep probability, not the drop rate). In the working
 * memory, with `withL1`, returns the L1 norm of what is kept (counted in the same pass); else undefined.
 */
export function dropRandom(delta: Float32Array, density: number, rng: Rng, withL1 = false): number | undefined {
  if (density >= 1) return undefined;
  // Keep when the top 31 random bits fall below density·2^31 (u < density); decided without branches, as
  // a coin flip per entry would mispredict half the time.
  const threshold = Math.floor(density * 2147483648);
  const kernels = kernelsOf(delta);
  if (kernels) {
    // The generator's state goes through this thread's scratch area (free between rank selections).
    const words = new Uint32Array(kernels.histogram.buffer, kernels.scratch, 4);
    words.set(rng.state);
    const l1 = kernels.exports.dareKeep(delta.byteOffset, delta.length, kernels.scratch, threshold, withL1 ? 1 : 0);
    rng.state.set(words);
    return withL1 ? l1 : undefined;
  }
  const random = new Uint32Array(RANDOM_BLOCK);
  const bits = new Int32Array(delta.buffer, delta.byteOffset, delta.length);
  for (let start = 0; start < delta.length; start += RANDOM_BLOCK) {
    const end = Math.min(delta.length, start + RANDOM_BLOCK);
    rng.fillUint32(end - start === RANDOM_BLOCK ? random : random.subarray(0, end - start)); // one draw per entry
    for (let i = start; i < end; i++) bits[i] = bits[i]! & (((random[i - start]! >>> 1) - threshold) >> 31);
  }
  return undefined;
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
 * density − ε to density + ε. A 1-D tensor is one row. Ranks are drawn in order from the stream (ties of |δ|
 * ranked by column), one block of random numbers per row.
 */
export function dropByMagnitudeRank(delta: Float32Array, rowLength: number, density: number, epsilon: number, rng: Rng): void {
  if (density >= 1) return;
  if (density <= 0) {
    delta.fill(0);
    return;
  }
  if (rowLength > 2097152) throw new Error(`rows of ${rowLength} entries are too long for DELLA ranking (max 2097152)`);
  const rows = delta.length / rowLength;
  const bits = new Int32Array(delta.buffer, delta.byteOffset, delta.length);
  const span = rowLength > 1 ? rowLength - 1 : 1;
  const keepBelow = new Float64Array(rowLength);
  for (let rank = 0; rank < rowLength; rank++) keepBelow[rank] = density - epsilon + (2 * epsilon * rank) / span;
  const random = new Uint32Array(rowLength);
  const sorter = new RankSorter(rowLength);
  for (let r = 0; r < rows; r++) {
    const start = r * rowLength;
    const order = sorter.sort(bits, start);
    // The same stream as one rng.next() per rank: next() is the next 32-bit draw / 2^32.
    rng.fillUint32(random);
    for (let rank = 0; rank < rowLength; rank++) if (!(random[rank]! / 4294967296 < keepBelow[rank]!)) delta[start + order[rank]!] = 0;
  }
}

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;

/**
 * Columns of a row in ascending order of |x| (its float32 bits without the sign), ties by column: a stable
 * least-significant-digit radix sort over 31 bits in three passes of 11, skipping a pass whose digit is the
 * same for the whole row (as the top one often is). The order a comparison sort of |x|·2^21 + column gives.
 */
class RankSorter {
  private keys: Uint32Array;
  private keysOut: Uint32Array;
  private order: Uint32Array;
  private orderOut: Uint32Array;
  private readonly counts = new Uint32Array(RADIX);

  constructor(private readonly length: number) {
    this.keys = new Uint32Array(length);
    this.keysOut = new Uint32Array(length);
    this.order = new Uint32Array(length);
    this.orderOut = new Uint32Array(length);
  }

  sort(bits: Int32Array, start: number): Uint32Array {
    const n = this.length;
    const counts = this.counts;
    for (let c = 0; c < n; c++) {
      this.keys[c] = bits[start + c]! & 0x7fffffff;
      this.order[c] = c;
    }
    for (let shift = 0; shift < 31; shift += RADIX_BITS) {
      counts.fill(0);
      const keys = this.keys;
      for (let c = 0; c < n; c++) counts[(keys[c]! >>> shift) & (RADIX - 1)]!++;
      if (counts[(keys[0]! >>> shift) & (RADIX - 1)] === n) continue;
      let sum = 0;
      for (let d = 0; d < RADIX; d++) {
        const c = counts[d]!;
        counts[d] = sum;
        sum += c;
      }
      const order = this.order;
      const keysOut = this.keysOut;
      const orderOut = this.orderOut;
      for (let c = 0; c < n; c++) {
        const key = keys[c]!;
        const at = counts[(key >>> shift) & (RADIX - 1)]!++;
        keysOut[at] = key;
        orderOut[at] = order[c]!;
      }
      [this.keys, this.keysOut, this.order, this.orderOut] = [keysOut, keys, orderOut, order];
    }
    return this.order;
  }
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
