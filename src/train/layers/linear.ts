import type { Kernels } from "../kernels.ts";

/**
 * dx (+)= dy · W and dW = dyᵀ · x for y = x · Wᵀ. `accumulateDx` adds into dx, for inputs that feed several
 * projections (q, k and v read one norm).
 */
export function linearBackward(
  kernels: Kernels,
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  rows: number,
  inDim: number,
  outDim: number,
  accumulateDx: boolean,
): void {
  kernels.gemm(rows, outDim, inDim, dy, outDim, w, inDim, dx, inDim, accumulateDx);
  kernels.gemmTA(outDim, rows, inDim, dy, outDim, x, inDim, dw, inDim);
}
