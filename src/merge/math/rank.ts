/**
 * Rank selection on |x| without sorting or copying: a two-pass radix select over the float32 bit patterns
 * (for non-negative floats, bit order is value order). Ties are broken by position, so exactly the requested
 * number of entries survives, as mergekit's top-k does (its tie order is arbitrary).
 */
import { kernelsOf } from "../kernels/runtime.ts";

const scalarHistogram = new Uint32Array(65536);

interface RankValue {
  /** Bit pattern of |x| at the requested ascending rank. */
  bits: number;
  /** How many entries have a strictly smaller |x|. */
  less: number;
  /** How many entries have exactly this |x|. */
  equal: number;
}

/** The |x| bit pattern at ascending rank `rank` (0-based) of `bits & 0x7fffffff`. */
export function selectAbsRank(bits: Int32Array, rank: number): RankValue {
  const n = bits.length;
  // In the working memory, the histograms are counted by kernels into this thread's scratch area.
  const kernels = kernelsOf(bits);
  const histogram = kernels ? kernels.histogram : scalarHistogram;
  histogram.fill(0);
  if (kernels) kernels.exports.histHigh(bits.byteOffset, n, kernels.scratch);
  else for (let i = 0; i < n; i++) histogram[(bits[i]! & 0x7fffffff) >>> 16]!++;
  let below = 0;
  let high = 0;
  for (; high < 65536; high++) {
    const c = histogram[high]!;
    if (below + c > rank) break;
    below += c;
  }
  histogram.fill(0);
  if (kernels) kernels.exports.histLow(bits.byteOffset, n, high, kernels.scratch);
  else {
    for (let i = 0; i < n; i++) {
      const x = bits[i]! & 0x7fffffff;
      if (x >>> 16 === high) histogram[x & 0xffff]!++;
    }
  }
  let low = 0;
  for (; low < 65536; low++) {
    const c = histogram[low]!;
    if (below + c > rank) break;
    below += c;
  }
  return { bits: ((high << 16) | low) >>> 0, less: below, equal: histogram[low]! };
}

/**
 * Zeroes every entry of `values` whose ascending rank by |x| falls outside [lo, hi), in place.
 * Returns the number of entries kept.
 */
export function keepAbsRankRange(values: Float32Array, lo: number, hi: number): number {
  const n = values.length;
  lo = Math.max(0, lo);
  hi = Math.min(n, hi);
  if (lo >= hi) {
    values.fill(0);
    return 0;
  }
  if (lo === 0 && hi === n) return n;
  const bits = new Int32Array(values.buffer, values.byteOffset, n);
  const a = lo > 0 ? selectAbsRank(bits, lo) : { bits: 0, less: 0, equal: 0 };
  const b = hi < n ? selectAbsRank(bits, hi - 1) : { bits: 0x7fffffff, less: n, equal: 0 };
  const kernels = kernelsOf(bits);
  if (kernels) {
    kernels.exports.keepBand(bits.byteOffset, n, a.bits, b.bits, a.less, b.less, lo, hi);
    return hi - lo;
  }
  // Keep a.bits ≤ |x| ≤ b.bits without branches (data-dependent branches mispredict on random weights).
  // Ties at either bound are rare enough to branch on: their ranks run in index order from `less`.
  let seenA = 0;
  let seenB = 0;
  for (let i = 0; i < n; i++) {
    const x = bits[i]! & 0x7fffffff;
    if (x === a.bits || x === b.bits) {
      const rank = x === a.bits ? a.less + seenA++ : b.less + seenB++;
      if (rank < lo || rank >= hi) bits[i] = 0;
      continue;
    }
    const outside = ((x - a.bits) | (b.bits - x)) >> 31; // -1 when x < a.bits or x > b.bits, else 0
    bits[i] = bits[i]! & ~outside;
  }
  return hi - lo;
}
