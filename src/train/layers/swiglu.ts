/** act = silu(gate) · up, elementwise; keeps σ(gate) for the backward pass. */
export function swigluForward(gate: Float32Array, up: Float32Array, sigmoid: Float32Array, act: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const g = gate[i]!;
    const s = 1 / (1 + Math.exp(-g));
    sigmoid[i] = s;
    act[i] = g * s * up[i]!;
  }
}

/** dgate = dact · up · σ(g)(1 + g(1 − σ(g))) (silu's derivative), dup = dact · silu(g). */
export function swigluBackward(dact: Float32Array, gate: Float32Array, up: Float32Array, sigmoid: Float32Array, dgate: Float32Array, dup: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const g = gate[i]!;
    const s = sigmoid[i]!;
    dup[i] = dact[i]! * g * s;
    dgate[i] = dact[i]! * up[i]! * s * (1 + g * (1 - s));
  }
}
