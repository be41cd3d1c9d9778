import { transpose, type Kernels } from "../kernels.ts";

/** Sizes of one attention layer over a batch of `batch` sequences of `seqLen` positions. */
export interface AttentionDims {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

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
      kernels.gemm(T, d, T, q.subarray(qAt), qWidth, scratch.headT, T, p, T);
      for (let t = 0; t < T; t++) {
        const o = t * T;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) max = Math.max(max, p[o + s]!);
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          const e = Math.exp((p[o + s]! - max) * scale);
          p[o + s] = e;
          sum += e;
        }
        const inverse = 1 / sum;
        for (let s = 0; s <= t; s++) p[o + s] = p[o + s]! * inverse;
        p.fill(0, o + t + 1, o + T);
      }
      kernels.gemm(T, T, d, p, T, v.subarray(kvAt), kvWidth, out.subarray(qAt), qWidth);
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
      kernels.gemm(T, d, T, dO, qWidth, vT, T, dScores, T);
      kernels.gemmTA(T, T, d, p, T, dO, qWidth, dv.subarray(kvAt), kvWidth, !first);
      for (let t = 0; t < T; t++) {
        const o = t * T;
        let dot = 0;
        for (let s = 0; s <= t; s++) dot += p[o + s]! * dScores[o + s]!;
        for (let s = 0; s <= t; s++) dScores[o + s] = p[o + s]! * (dScores[o + s]! - dot) * scale;
        dScores.fill(0, o + t + 1, o + T);
      }
      kernels.gemm(T, T, d, dScores, T, k.subarray(kvAt), kvWidth, dq.subarray(qAt), qWidth);
      kernels.gemmTA(T, T, d, dScores, T, q.subarray(qAt), qWidth, dk.subarray(kvAt), kvWidth, !first);
    }
  }
}
