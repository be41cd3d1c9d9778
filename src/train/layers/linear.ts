import { transpose, type Kernels } from "../kernels.ts";

/**
 * dx (+)= dy · W and dW = dyᵀ · x for y = x · Wᵀ. `scratch` holds dyᵀ (at least out × rows floats).
 * `accumulateDx` adds into dx, for inputs that feed several projections (q, k and v read one norm).
 */
export function linearBackward(
  kernels: Kernels,
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  scratch: Float32Array,
  rows: number,
  inDim: number,
  outDim: number,
  accumulateDx: boolean,
): void {
  kernels.gemm(rows, outDim, inDim, dy, outDim, w, inDim, dx, inDim, accumulateDx);
  transpose(dy, rows, outDim, outDim, scratch);
  kernels.gemm(outDim, rows, inDim, scratch, rows, x, inDim, dw, inDim);
}
