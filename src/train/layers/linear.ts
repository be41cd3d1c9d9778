import type { Kernels } from "../kernels.ts";

/**
 * Rows per pass of the weight-gradient product dyᵀ·x (a sum over every row of the batch): a pass's rows of dy
 * and x stay in cache while the kernel sweeps them once per block of dW, instead of streaming all rows each time.
 */
const ROWS_PER_PASS = 256;

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
  for (let r = 0; r < rows; r += ROWS_PER_PASS) {
    const chunk = Math.min(ROWS_PER_PASS, rows - r);
    kernels.gemmTA(outDim, chunk, inDim, dy.subarray(r * outDim), outDim, x.subarray(r * inDim), inDim, dw, inDim, r > 0);
  }
}
