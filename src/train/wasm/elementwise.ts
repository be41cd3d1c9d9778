import { F32, I32, op, V128, whileNot, type Code, type WasmFunction } from "./assemble.ts";

/**
 * The training loop's elementwise work on f32x4 lanes: the causal softmax of attention scores and SwiGLU both
 * ways. Each runs over whole vectors, so lengths are multiples of 4 (the engine pads sequences to 8).
 */

/** Local variables numbered after the parameters: a fixed pool per type, handed out in order. */
class Locals {
  private readonly next = { [I32]: 0, [F32]: 0, [V128]: 0 };
  private static readonly POOL = 16;

  constructor(private readonly params: number) {}

  take(type: typeof I32 | typeof F32 | typeof V128): number {
    const base = this.params + { [I32]: 0, [F32]: 1, [V128]: 2 }[type] * Locals.POOL;
    if (this.next[type] === Locals.POOL) throw new Error("wasm: local pool exhausted");
    return base + this.next[type]++;
  }

  declarations(): [number, number][] {
    return [[Locals.POOL, I32], [Locals.POOL, F32], [Locals.POOL, V128]];
  }
}

// Cephes' expf: e^x = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (ln 2 in two parts, so r is exact), e^r
// by a degree-7 polynomial; relative error about 1e-7, float32's own precision. x is clamped where float32
// would underflow or overflow; NaN stays NaN.
const LOG2E = 1.4426950408889634;
const LN2_HIGH = 0.693359375;
const LN2_LOW = -2.12194440e-4;
const EXP_POLYNOMIAL = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** e^x for the vector that `x` leaves on the stack; leaves the result on the stack. */
function vectorExp(x: Code, locals: Locals): Code {
  const [clamped, n, r] = [locals.take(V128), locals.take(V128), locals.take(V128)];
  const code: Code = [...x, ...op.vSplatConst(-87.3), ...op.f32x4Max, ...op.vSplatConst(88.3), ...op.f32x4Min, ...op.set(clamped)];
  code.push(...op.get(clamped), ...op.vSplatConst(LOG2E), ...op.f32x4Mul, ...op.f32x4Nearest, ...op.set(n));
  code.push(...op.get(clamped), ...op.get(n), ...op.vSplatConst(LN2_HIGH), ...op.f32x4Mul, ...op.f32x4Sub);
  code.push(...op.get(n), ...op.vSplatConst(LN2_LOW), ...op.f32x4Mul, ...op.f32x4Sub, ...op.set(r));
  code.push(...op.vSplatConst(EXP_POLYNOMIAL[0]!));
  for (const c of EXP_POLYNOMIAL.slice(1)) code.push(...op.get(r), ...op.f32x4Mul, ...op.vSplatConst(c), ...op.f32x4Add);
  code.push(...op.get(r), ...op.f32x4Mul, ...op.get(r), ...op.f32x4Mul, ...op.get(r), ...op.f32x4Add, ...op.vSplatConst(1), ...op.f32x4Add);
  // 2^n as float bits: (n + 127) << 23.
  code.push(...op.get(n), ...op.i32x4TruncSatF32x4S, ...op.i32(127), ...op.i32x4Splat, ...op.i32x4Add, ...op.i32(23), ...op.i32x4Shl, ...op.f32x4Mul);
  return code;
}

const increment = (local: number, by: number): Code => [...op.get(local), ...op.i32(by), ...op.add, ...op.set(local)];
const lanes = (vector: number, combine: Code): Code => [
  ...op.get(vector), ...op.f32x4ExtractLane(0), ...op.get(vector), ...op.f32x4ExtractLane(1), ...combine,
  ...op.get(vector), ...op.f32x4ExtractLane(2), ...op.get(vector), ...op.f32x4ExtractLane(3), ...combine, ...combine,
];

/**
 * softmaxCausal(p, seqLen, count, scale): for `count` consecutive [seqLen × seqLen] score matrices at p, row t
 * becomes softmax(scale · row[0..t]) followed by zeros. Only the first t + 1 entries are read: a lane mask
 * keeps the rest of the row's last vector out of the maximum and the sum.
 */
export function softmaxFunction(): WasmFunction {
  const [P, T, COUNT, SCALE] = [0, 1, 2, 3];
  const locals = new Locals(4);
  const int = () => locals.take(I32);
  const vector = () => locals.take(V128);
  const [row, rowBytes, square, t, n, vectors, i, at, rowVectors] = [int(), int(), int(), int(), int(), int(), int(), int(), int()];
  const [max, total] = [locals.take(F32), locals.take(F32)];
  const [best, mask, sum, shift, scale, e] = [vector(), vector(), vector(), vector(), vector(), vector()];
  const expOfScaled = vectorExp([...op.get(at), ...op.vLoad(0), ...op.get(shift), ...op.f32x4Sub, ...op.get(scale), ...op.f32x4Mul], locals);
  // Lanes of vector i that hold entries 0..t: lane < n − 4i.
  const setMask: Code = [...op.vLaneIndex, ...op.get(n), ...op.get(i), ...op.i32(2), ...op.shl, ...op.sub, ...op.i32x4Splat, ...op.i32x4LtS, ...op.set(mask)];
  const overVectors = (body: Code): Code => [...op.i32(0), ...op.set(i), ...op.get(row), ...op.set(at), ...whileNot([...op.get(i), ...op.get(vectors), ...op.geS], [...body, ...increment(at, 16), ...increment(i, 1)])];

  const perRow: Code = [
    ...op.get(t), ...op.i32(1), ...op.add, ...op.set(n),
    ...op.get(n), ...op.i32(3), ...op.add, ...op.i32(2), ...op.shrU, ...op.set(vectors),
    ...op.vSplatConst(-Infinity), ...op.set(best),
    ...overVectors([...setMask, ...op.get(best), ...op.get(at), ...op.vLoad(0), ...op.vSplatConst(-Infinity), ...op.get(mask), ...op.vBitselect, ...op.f32x4Max, ...op.set(best)]),
    ...lanes(best, op.f32Max), ...op.set(max),
    ...op.get(max), ...op.f32x4Splat, ...op.set(shift),
    ...op.vZero, ...op.set(sum),
    // e^(scale · (score − max)), zero outside the mask, stored and summed.
    ...overVectors([...setMask, ...expOfScaled, ...op.get(mask), ...op.vAnd, ...op.set(e), ...op.get(at), ...op.get(e), ...op.vStore(0), ...op.get(sum), ...op.get(e), ...op.f32x4Add, ...op.set(sum)]),
    ...lanes(sum, op.f32Add), ...op.set(total),
    ...op.f32Const(1), ...op.get(total), ...op.f32Div, ...op.f32x4Splat, ...op.set(e),
    ...overVectors([...op.get(at), ...op.get(at), ...op.vLoad(0), ...op.get(e), ...op.f32x4Mul, ...op.vStore(0)]),
    // The rest of the row, from vector `vectors` on, is zero.
    ...whileNot([...op.get(i), ...op.get(rowVectors), ...op.geS], [...op.get(at), ...op.vZero, ...op.vStore(0), ...increment(at, 16), ...increment(i, 1)]),
  ];
  const body: Code = [
    ...op.get(T), ...op.i32(2), ...op.shl, ...op.set(rowBytes),
    ...op.get(T), ...op.i32(2), ...op.shrU, ...op.set(rowVectors),
    ...op.get(SCALE), ...op.f32x4Splat, ...op.set(scale),
    ...op.get(P), ...op.set(row),
    ...op.i32(0), ...op.set(square),
    ...whileNot([...op.get(square), ...op.get(COUNT), ...op.geS], [
      ...op.i32(0), ...op.set(t),
      ...whileNot([...op.get(t), ...op.get(T), ...op.geS], [...perRow, ...op.get(row), ...op.get(rowBytes), ...op.add, ...op.set(row), ...increment(t, 1)]),
      ...increment(square, 1),
    ]),
  ];
  return { name: "softmaxCausal", params: [I32, I32, I32, F32], locals: locals.declarations(), body };
}

/** swigluForward(gate, up, sigmoid, act, length): sigmoid = σ(gate), act = gate · sigmoid · up. */
export function swigluForwardFunction(): WasmFunction {
  const [GATE, UP, SIGMOID, ACT, LENGTH] = [0, 1, 2, 3, 4];
  const locals = new Locals(5);
  const [at, end] = [locals.take(I32), locals.take(I32)];
  const [g, s] = [locals.take(V128), locals.take(V128)];
  const address = (base: number): Code => [...op.get(base), ...op.get(at), ...op.add];
  const step: Code = [
    ...address(GATE), ...op.vLoad(0), ...op.set(g),
    ...op.vSplatConst(1), ...op.vSplatConst(1), ...vectorExp([...op.vZero, ...op.get(g), ...op.f32x4Sub], locals), ...op.f32x4Add, ...op.f32x4Div, ...op.set(s),
    ...address(SIGMOID), ...op.get(s), ...op.vStore(0),
    ...address(ACT), ...op.get(g), ...op.get(s), ...op.f32x4Mul, ...address(UP), ...op.vLoad(0), ...op.f32x4Mul, ...op.vStore(0),
    ...increment(at, 16),
  ];
  const body: Code = [...op.get(LENGTH), ...op.i32(2), ...op.shl, ...op.set(end), ...op.i32(0), ...op.set(at), ...whileNot([...op.get(at), ...op.get(end), ...op.geS], step)];
  return { name: "swigluForward", params: new Array<number>(5).fill(I32), locals: locals.declarations(), body };
}

/** swigluBackward(dact, gate, up, sigmoid, dgate, dup, length): silu's derivative σ(g)(1 + g(1 − σ(g))). */
export function swigluBackwardFunction(): WasmFunction {
  const [DACT, GATE, UP, SIGMOID, DGATE, DUP, LENGTH] = [0, 1, 2, 3, 4, 5, 6];
  const locals = new Locals(7);
  const [at, end] = [locals.take(I32), locals.take(I32)];
  const [d, g, s] = [locals.take(V128), locals.take(V128), locals.take(V128)];
  const address = (base: number): Code => [...op.get(base), ...op.get(at), ...op.add];
  const step: Code = [
    ...address(DACT), ...op.vLoad(0), ...op.set(d),
    ...address(GATE), ...op.vLoad(0), ...op.set(g),
    ...address(SIGMOID), ...op.vLoad(0), ...op.set(s),
    ...address(DUP), ...op.get(d), ...op.get(g), ...op.f32x4Mul, ...op.get(s), ...op.f32x4Mul, ...op.vStore(0),
    ...address(DGATE), ...op.get(d), ...address(UP), ...op.vLoad(0), ...op.f32x4Mul, ...op.get(s), ...op.f32x4Mul,
    ...op.vSplatConst(1), ...op.get(g), ...op.vSplatConst(1), ...op.get(s), ...op.f32x4Sub, ...op.f32x4Mul, ...op.f32x4Add, ...op.f32x4Mul, ...op.vStore(0),
    ...increment(at, 16),
  ];
  const body: Code = [...op.get(LENGTH), ...op.i32(2), ...op.shl, ...op.set(end), ...op.i32(0), ...op.set(at), ...whileNot([...op.get(at), ...op.get(end), ...op.geS], step)];
  return { name: "swigluBackward", params: new Array<number>(7).fill(I32), locals: locals.declarations(), body };
}

/**
 * softmaxCausalBackward(p, dp, seqLen, scale): in place on one [seqLen × seqLen] dp, the gradient of the scores
 * from that of softmaxCausal's output p: row t becomes scale · p ⊙ (dp − Σ p ⊙ dp) over entries 0..t, then zeros.
 */
export function softmaxBackwardFunction(): WasmFunction {
  const [P, DP, T, SCALE] = [0, 1, 2, 3];
  const locals = new Locals(4);
  const int = () => locals.take(I32);
  const vector = () => locals.take(V128);
  const [rowP, rowD, rowBytes, t, n, vectors, i, at, rowVectors] = [int(), int(), int(), int(), int(), int(), int(), int(), int()];
  const [mask, sum, dot, scale] = [vector(), vector(), vector(), vector()];
  const setMask: Code = [...op.vLaneIndex, ...op.get(n), ...op.get(i), ...op.i32(2), ...op.shl, ...op.sub, ...op.i32x4Splat, ...op.i32x4LtS, ...op.set(mask)];
  const overVectors = (body: Code): Code => [...op.i32(0), ...op.set(i), ...op.i32(0), ...op.set(at), ...whileNot([...op.get(i), ...op.get(vectors), ...op.geS], [...body, ...increment(at, 16), ...increment(i, 1)])];
  const load = (row: number): Code => [...op.get(row), ...op.get(at), ...op.add, ...op.vLoad(0)];
  const perRow: Code = [
    ...op.get(t), ...op.i32(1), ...op.add, ...op.set(n),
    ...op.get(n), ...op.i32(3), ...op.add, ...op.i32(2), ...op.shrU, ...op.set(vectors),
    ...op.vZero, ...op.set(sum),
    ...overVectors([...setMask, ...op.get(sum), ...load(rowP), ...load(rowD), ...op.f32x4Mul, ...op.get(mask), ...op.vAnd, ...op.f32x4Add, ...op.set(sum)]),
    ...lanes(sum, op.f32Add), ...op.f32x4Splat, ...op.set(dot),
    ...overVectors([
      ...setMask, ...op.get(rowD), ...op.get(at), ...op.add,
      ...load(rowP), ...load(rowD), ...op.get(dot), ...op.f32x4Sub, ...op.f32x4Mul, ...op.get(scale), ...op.f32x4Mul, ...op.get(mask), ...op.vAnd,
      ...op.vStore(0),
    ]),
    ...whileNot([...op.get(i), ...op.get(rowVectors), ...op.geS], [...op.get(rowD), ...op.get(at), ...op.add, ...op.vZero, ...op.vStore(0), ...increment(at, 16), ...increment(i, 1)]),
  ];
  const body: Code = [
    ...op.get(T), ...op.i32(2), ...op.shl, ...op.set(rowBytes),
    ...op.get(T), ...op.i32(2), ...op.shrU, ...op.set(rowVectors),
    ...op.get(SCALE), ...op.f32x4Splat, ...op.set(scale),
    ...op.get(P), ...op.set(rowP),
    ...op.get(DP), ...op.set(rowD),
    ...op.i32(0), ...op.set(t),
    ...whileNot([...op.get(t), ...op.get(T), ...op.geS], [...perRow, ...op.get(rowP), ...op.get(rowBytes), ...op.add, ...op.set(rowP), ...op.get(rowD), ...op.get(rowBytes), ...op.add, ...op.set(rowD), ...increment(t, 1)]),
  ];
  return { name: "softmaxCausalBackward", params: [I32, I32, I32, F32], locals: locals.declarations(), body };
}
