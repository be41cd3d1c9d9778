import { kernelsOfAll } from "../kernels/runtime.ts";

/** out[j] = w0·out[j] + w1·other[j] in float64, rounded once (SIMD when both lie in the working memory). */
export function combinePairInPlace(out: Float32Array, other: Float32Array, w0: number, w1: number): void {
  const kernels = kernelsOfAll(out, other);
  kernels?.exports.linearPair(out.byteOffset, other.byteOffset, out.length, w0, w1);
  for (let j = kernels ? out.length & ~3 : 0; j < out.length; j++) out[j] = w0 * out[j]! + w1 * other[j]!;
}
