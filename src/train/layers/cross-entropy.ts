/**
 * Softmax cross-entropy of logits[rows×vocab] against targets, each row weighted (0 for padding and for tokens
 * not trained on); the loss is the weighted mean. Writes dlogits = weight · (softmax − onehot) / Σ weights, zero
 * rows where the weight is zero. Returns the loss (0 when every weight is zero).
 */
export function crossEntropy(logits: Float32Array, targets: Int32Array, weights: Float32Array, dlogits: Float32Array, rows: number, vocab: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) total += weights[r]!;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    const weight = weights[r]!;
    if (weight === 0) {
      dlogits.fill(0, o, o + vocab);
      continue;
    }
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[o + j]!);
    let sum = 0;
    for (let j = 0; j < vocab; j++) {
      const e = Math.exp(logits[o + j]! - max);
      dlogits[o + j] = e;
      sum += e;
    }
    const target = targets[r]!;
    loss += weight * (Math.log(sum) + max - logits[o + target]!);
    const scale = weight / total / sum;
    for (let j = 0; j < vocab; j++) dlogits[o + j] = dlogits[o + j]! * scale;
    dlogits[o + target] = dlogits[o + target]! - weight / total;
  }
  return total > 0 ? loss / total : 0;
}
