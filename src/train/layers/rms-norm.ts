/** y = x / √(mean(x²) + eps) · w per row; keeps each row's 1/√(mean(x²) + eps) in `inverseRms` for the backward pass. */
export function rmsNormForward(x: Float32Array, w: Float32Array, y: Float32Array, inverseRms: Float32Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let squares = 0;
    for (let j = 0; j < dim; j++) squares += x[o + j]! * x[o + j]!;
    const scale = 1 / Math.sqrt(squares / dim + eps);
    inverseRms[r] = scale;
    for (let j = 0; j < dim; j++) y[o + j] = x[o + j]! * scale * w[j]!;
  }
}

/**
 * dx += ∂L/∂x and dw = ∂L/∂w, given dy. With s = 1/rms and g = dy ⊙ w: dx = s·g − x · s³ · (g·x) / dim
 * (the second term is the gradient through the mean square). dw sums over rows in float64, in row order.
 */
export function rmsNormBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  inverseRms: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  dwSum: Float64Array,
  rows: number,
  dim: number,
): void {
  dwSum.fill(0, 0, dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const s = inverseRms[r]!;
    let dot = 0;
    for (let j = 0; j < dim; j++) {
      dot += dy[o + j]! * w[j]! * x[o + j]!;
      dwSum[j]! += dy[o + j]! * x[o + j]! * s;
    }
    const c = (s * s * s * dot) / dim;
    for (let j = 0; j < dim; j++) dx[o + j] = dx[o + j]! + s * dy[o + j]! * w[j]! - x[o + j]! * c;
  }
  for (let j = 0; j < dim; j++) dw[j] = dwSum[j]!;
}
