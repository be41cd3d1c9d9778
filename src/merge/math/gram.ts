/** Entries per block: every pair of vectors is multiplied while the block is still in cache. */
const BLOCK = 4096;

/**
 * The Gram matrix G[i][k] = ⟨xᵢ, xₖ⟩ of equal-length vectors, accumulated in float64. Methods whose result
 * lies in the span of their inputs (multislerp, karcher) work on these N×N numbers instead of whole tensors.
 */
export function gramMatrix(vectors: readonly Float32Array[]): Float64Array[] {
  const count = vectors.length;
  const gram = Array.from({ length: count }, () => new Float64Array(count));
  const length = count ? vectors[0]!.length : 0;
  for (let start = 0; start < length; start += BLOCK) {
    const end = Math.min(length, start + BLOCK);
    for (let i = 0; i < count; i++) {
      const x = vectors[i]!;
      for (let k = 0; k <= i; k++) {
        const y = vectors[k]!;
        let sum = 0;
        for (let j = start; j < end; j++) sum += x[j]! * y[j]!;
        gram[i]![k] = gram[i]![k]! + sum;
      }
    }
  }
  for (let i = 0; i < count; i++) for (let k = i + 1; k < count; k++) gram[i]![k] = gram[k]![i]!;
  return gram;
}

/** xᵀ·G·y for coefficient vectors x, y over the vectors G was built from. */
export function gramProduct(gram: readonly Float64Array[], x: ArrayLike<number>, y: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < gram.length; i++) {
    let row = 0;
    for (let k = 0; k < gram.length; k++) row += gram[i]![k]! * y[k]!;
    sum += x[i]! * row;
  }
  return sum;
}

/** out[j] = Σᵢ coefficients[i]·vectors[i][j] (+ offset[j]), written into `out` (which may be one of the vectors). */
export function combineInto(out: Float32Array, vectors: readonly Float32Array[], coefficients: readonly number[], offset?: Float32Array): void {
  const count = vectors.length;
  if (count === 2 && !offset) {
    const [x0, x1] = vectors as [Float32Array, Float32Array];
    const [c0, c1] = coefficients as [number, number];
    for (let j = 0; j < out.length; j++) out[j] = c0 * x0[j]! + c1 * x1[j]!;
    return;
  }
  for (let j = 0; j < out.length; j++) {
    let sum = offset ? offset[j]! : 0;
    for (let i = 0; i < count; i++) sum += coefficients[i]! * vectors[i]![j]!;
    out[j] = sum;
  }
}
