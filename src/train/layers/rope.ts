/**
 * Rotary embeddings as transformers' Llama applies them ("rotate_half"): in each head, dimension i and i + d/2
 * form a pair rotated by position · θ^(−2i/d). This is not the interleaved (2i, 2i+1) layout of the original
 * paper; HF checkpoints permute q/k weights to this layout, so the reference and ONNX export use it too.
 */
export interface RopeTable {
  cos: Float64Array;
  sin: Float64Array;
  half: number;
}

export function ropeTable(seqLen: number, headDim: number, theta: number): RopeTable {
  const half = headDim / 2;
  const cos = new Float64Array(seqLen * half);
  const sin = new Float64Array(seqLen * half);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * theta ** ((-2 * i) / headDim);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin, half };
}

/**
 * Rotates x[rows×(heads·headDim)] in place, row r at position r mod seqLen; `inverse` rotates back by the same
 * angle, which is the backward pass (a rotation's transpose is its inverse).
 */
export function rotate(x: Float32Array, rows: number, seqLen: number, heads: number, table: RopeTable, inverse: boolean): void {
  const { cos, sin, half } = table;
  const width = heads * 2 * half;
  const sign = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    const at = (r % seqLen) * half;
    for (let h = 0; h < heads; h++) {
      const o = r * width + h * 2 * half;
      for (let i = 0; i < half; i++) {
        const c = cos[at + i]!;
        const s = sign * sin[at + i]!;
        const a = x[o + i]!;
        const b = x[o + i + half]!;
        x[o + i] = a * c - b * s;
        x[o + i + half] = b * c + a * s;
      }
    }
  }
}
