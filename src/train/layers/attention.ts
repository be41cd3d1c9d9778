import { transpose, type Kernels } from "../kernels.ts";

/** Sizes of one attention layer over a batch of `batch` sequences of `seqLen` positions. */
export interface AttentionDims {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/**
 * Causality in blocks of query rows: a block of rows [r, r + BLOCK) only needs keys [0, r + BLOCK), so the
 * products skip most of the zero upper triangle (62 % of the full square's work at seqLen 128).
 */
const BLOCK = 32;

/** Per-(sequence, head) buffers reused across heads and layers: [seqLen × seqLen] and [headDim × seqLen]. */
export interface AttentionScratch {
  square: Float32Array;
  headT: Float32Array;
}

/**
 * Causal grouped-query attention: query head h reads key/value head ⌊h / (heads / kvHeads)⌋. q and k are
 * already rotated. probs[b, h] ([seqLen × seqLen], zero above the diagonal) is kept for the backward pass;
 * out[rows × heads·headDim]. Sequences are right-padded, so padding is only ever attended by padding.
 */
export function attentionForward(kernels: Kernels, dims: AttentionDims, q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array, out: Float32Array, scratch: AttentionScratch): void {
  const { batch, seqLen: T, heads, kvHeads, headDim: d } = dims;
  const [qWidth, kvWidth, group, scale] = [heads * d, kvHeads * d, heads / kvHeads, 1 / Math.sqrt(d)];
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kv = Math.floor(h / group);
      const kvAt = b * T * kvWidth + kv * d;
      const qAt = b * T * qWidth + h * d;
      if (h % group === 0) transpose(k.subarray(kvAt), T, d, kvWidth, scratch.headT);
      const p = probs.subarray((b * heads + h) * T * T, (b * heads + h + 1) * T * T);
      for (let r = 0; r < T; r += BLOCK) {
        const rows = Math.min(BLOCK, T - r);
        kernels.gemm(rows, d, r + rows, q.subarray(qAt + r * qWidth), qWidth, scratch.headT, T, p.subarray(r * T), T);
      }
      kernels.softmaxCausal(p, T, 1, scale);
      for (let r = 0; r < T; r += BLOCK) {
        const rows = Math.min(BLOCK, T - r);
        kernels.gemm(rows, r + rows, d, p.subarray(r * T), T, v.subarray(kvAt), kvWidth, out.subarray(qAt + r * qWidth), qWidth);
      }
    }
  }
}

/**
 * From dout, writes dq and dk (still in rotated coordinates) and dv. Per head: dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP))
 * (the softmax's Jacobian) times the score scale, dQ = dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO; the heads of a group add
 * into their shared key/value head in head order.
 */
export function attentionBackward(
  kernels: Kernels,
  dims: AttentionDims,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  dout: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  scratch: AttentionScratch,
): void {
  const { batch, seqLen: T, heads, kvHeads, headDim: d } = dims;
  const [qWidth, kvWidth, group, scale] = [heads * d, kvHeads * d, heads / kvHeads, 1 / Math.sqrt(d)];
  const { square: dScores, headT: vT } = scratch;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kv = Math.floor(h / group);
      const kvAt = b * T * kvWidth + kv * d;
      const qAt = b * T * qWidth + h * d;
      const first = h % group === 0;
      const p = probs.subarray((b * heads + h) * T * T, (b * heads + h + 1) * T * T);
      const dO = dout.subarray(qAt);
      if (first) transpose(v.subarray(kvAt), T, d, kvWidth, vT);
      for (let r = 0; r < T; r += BLOCK) {
        const rows = Math.min(BLOCK, T - r);
        kernels.gemm(rows, d, r + rows, dO.subarray(r * qWidth), qWidth, vT, T, dScores.subarray(r * T), T);
        // Keys [r, r + rows) are read by queries r and later: Pᵀ from row r, column r.
        kernels.gemmTA(rows, T - r, d, p.subarray(r * T + r), T, dO.subarray(r * qWidth), qWidth, dv.subarray(kvAt + r * kvWidth), kvWidth, !first);
      }
      kernels.softmaxCausalBackward(p, dScores, T, scale);
      for (let r = 0; r < T; r += BLOCK) {
        const rows = Math.min(BLOCK, T - r);
        kernels.gemm(rows, r + rows, d, dScores.subarray(r * T), T, k.subarray(kvAt), kvWidth, dq.subarray(qAt + r * qWidth), qWidth);
        kernels.gemmTA(rows, T - r, d, dScores.subarray(r * T + r), T, q.subarray(qAt + r * qWidth), qWidth, dk.subarray(kvAt + r * kvWidth), kvWidth, !first);
      }
    }
  }
}
