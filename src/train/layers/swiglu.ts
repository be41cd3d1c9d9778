/** act = silu(gate) · up, elementwise. */
export function swigluForward(gate: Float32Array, up: Float32Array, act: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const g = gate[i]!;
    act[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

/** dgate = dact · up · σ(g)(1 + g(1 − σ(g))) (silu's derivative), dup = dact · silu(g). */
export function swigluBackward(dact: Float32Array, gate: Float32Array, up: Float32Array, dgate: Float32Array, dup: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const g = gate[i]!;
    const sigmoid = 1 / (1 + Math.exp(-g));
    dup[i] = dact[i]! * g * sigmoid;
    dgate[i] = dact[i]! * up[i]! * sigmoid * (1 + g * (1 - sigmoid));
  }
}
