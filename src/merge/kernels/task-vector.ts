import { F64, I32, V128, increment, op, whileNot, type Code, type WasmFunction } from "../../util/wasm-assembler.ts";

/**
 * The element-wise formulas of linear and the task-arithmetic family on 128-bit vectors, bit for bit the scalar
 * code they replace: float32 values are widened to float64 (two lanes), the formula runs in float64 as the
 * JavaScript does, and the result is rounded to float32 once (round to nearest even, as a Float32Array store).
 * Sums over a tensor (L1 norms) add lane by lane in index order, as the scalar loop does. Each kernel processes
 * count − count mod 4 entries and returns; the caller finishes the rest with the scalar code.
 */

const F64_ONE = [...new Uint8Array(Float64Array.of(1, 1).buffer)];
const vOne: Code = [0xfd, 0x0c, ...F64_ONE];
const vZero: Code = op.vI32(0);
/** Lanes 2 and 3 of a float32 vector moved to lanes 0 and 1, to widen the high half. */
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** The low 8 bytes of the first vector, then the low 8 bytes of the second. */
const JOIN_LOWS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** The float32 lanes `half` (0: lanes 0–1, 1: lanes 2–3) of the vector in `local`, widened to float64. */
const widen = (local: number, half: 0 | 1): Code => [...op.get(local), ...(half ? [...op.get(local), ...op.i8x16Shuffle(HIGH_TO_LOW)] : []), ...op.f64x2PromoteLowF32x4];
/** The 32-bit lane masks `half` of the vector in `local`, as 64-bit lane masks. */
const widenMask = (local: number, half: 0 | 1): Code => [...op.get(local), ...(half ? op.i64x2ExtendHighI32x4S : op.i64x2ExtendLowI32x4S)];
/** (count & −4) float32 entries from `pointer`, as an end address. */
const endOfVectors = (pointer: number, count: number, end: number): Code => [...op.get(pointer), ...op.get(count), ...op.i32(-4), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(end)];

/**
 * Stores at `out` the four results of `half(0)` and `half(1)` (each leaves two float64 on the stack), rounded
 * to float32; `low` is a v128 local for the first half's result.
 */
const storeFour = (out: number, low: number, half: (h: 0 | 1) => Code): Code => [
  ...half(0), ...op.f32x4DemoteF64x2Zero, ...op.set(low),
  ...op.get(out), ...op.get(low), ...half(1), ...op.f32x4DemoteF64x2Zero, ...op.i8x16Shuffle(JOIN_LOWS), ...op.vStore(),
];

/** weightedDelta(m, b, count, withL1; w) → L1: m[j] = w·(m[j] − b[j]); with withL1, Σ|w·(m[j] − b[j])| before rounding. */
export function weightedDelta(): WasmFunction {
  const [M, B, N, L1, W, END, ACC, WV, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const delta = (offset: number): Code => [
    ...op.get(WV),
    ...op.get(M), ...op.vLoad64Zero(offset), ...op.f64x2PromoteLowF32x4,
    ...op.get(B), ...op.vLoad64Zero(offset), ...op.f64x2PromoteLowF32x4,
    ...op.f64x2Sub, ...op.f64x2Mul, ...op.set(D),
    ...op.get(M), ...op.get(D), ...op.f32x4DemoteF64x2Zero, ...op.vStore64Low(offset),
  ];
  const accumulate = (lane: number): Code => [...op.get(ACC), ...op.get(D), ...op.f64x2ExtractLane(lane), ...op.f64Abs, ...op.f64Add, ...op.set(ACC)];
  const loop = (withL1: boolean): Code =>
    whileNot([...op.get(M), ...op.get(END), ...op.geU], [
      ...delta(0), ...(withL1 ? [...accumulate(0), ...accumulate(1)] : []),
      ...delta(8), ...(withL1 ? [...accumulate(0), ...accumulate(1)] : []),
      ...increment(M, 16), ...increment(B, 16),
    ]);
  return {
    name: "weightedDelta",
    params: [I32, I32, I32, I32, F64],
    results: [F64],
    locals: [[1, I32], [1, F64], [2, V128]],
    body: [
      ...endOfVectors(M, N, END),
      ...op.get(W), ...op.f64x2Splat, ...op.set(WV),
      ...op.get(L1), ...op.if, ...loop(true), ...op.else, ...loop(false), ...op.end,
      ...op.get(ACC),
    ],
  };
}

/**
 * signElectedPair(base, x0, x1, count, always; w0, w1, lambda): TIES's two-model consensus, as
 * addSignElectedPair computes it: entry i agrees when it is non-zero and its sign matches the other's or its
 * magnitude is the larger (equal magnitudes: the positive one); base[j] += λ·(agreeing sum) / divisor, where
 * the divisor is the agreeing weights, plus 1 when nothing agrees or always = 1, and 1 when that is 0.
 */
export function signElectedPair(): WasmFunction {
  const [BASE, X0, X1, N, ALWAYS, W0, W1, LAMBDA, END] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [A, B, AA, BB, SAME, EQ, K0, K1, NONE, ALWAYSV, W0V, W1V, LV, BS, DIV, LO] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
  const SIGN = 0x80000000 | 0;
  // keep = (same sign | larger | (equal & non-negative)) & non-zero
  const keep = (x: number, abs: number, otherAbs: number): Code => [
    ...op.get(SAME), ...op.get(abs), ...op.get(otherAbs), ...op.i32x4GtS, ...op.vOr,
    ...op.get(EQ), ...op.get(x), ...op.vI32(-1), ...op.i32x4GtS, ...op.vAnd, ...op.vOr,
    ...op.get(abs), ...vZero, ...op.i32x4Eq, ...op.vAndNot,
  ];
  const half = (h: 0 | 1): Code => [
    ...op.get(W0V), ...vZero, ...widenMask(K0, h), ...op.vBitselect,
    ...op.get(W1V), ...vZero, ...widenMask(K1, h), ...op.vBitselect, ...op.f64x2Add,
    ...vOne, ...vZero, ...widenMask(NONE, h), ...op.vBitselect, ...op.f64x2Add, ...op.set(DIV),
    ...vOne, ...op.get(DIV), ...op.get(DIV), ...vZero, ...op.f64x2Eq, ...op.vBitselect, ...op.set(DIV),
    ...widen(BS, h), ...op.get(LV), ...widen(A, h), ...widen(B, h), ...op.f64x2Add, ...op.f64x2Mul, ...op.get(DIV), ...op.f64x2Div, ...op.f64x2Add,
  ];
  return {
    name: "signElectedPair",
    params: [I32, I32, I32, I32, I32, F64, F64, F64],
    locals: [[1, I32], [16, V128]],
    body: [
      ...endOfVectors(BASE, N, END),
      ...op.i32(0), ...op.get(ALWAYS), ...op.sub, ...op.i32x4Splat, ...op.set(ALWAYSV),
      ...op.get(W0), ...op.f64x2Splat, ...op.set(W0V), ...op.get(W1), ...op.f64x2Splat, ...op.set(W1V), ...op.get(LAMBDA), ...op.f64x2Splat, ...op.set(LV),
      ...whileNot([...op.get(BASE), ...op.get(END), ...op.geU], [
        ...op.get(X0), ...op.vLoad(), ...op.set(A), ...op.get(X1), ...op.vLoad(), ...op.set(B), ...op.get(BASE), ...op.vLoad(), ...op.set(BS),
        ...op.get(A), ...op.vI32(0x7fffffff), ...op.vAnd, ...op.set(AA),
        ...op.get(B), ...op.vI32(0x7fffffff), ...op.vAnd, ...op.set(BB),
        ...op.get(A), ...op.get(B), ...op.vXor, ...op.vI32(-1), ...op.i32x4GtS, ...op.set(SAME),
        ...op.get(AA), ...op.get(BB), ...op.i32x4Eq, ...op.set(EQ),
        ...keep(A, AA, BB), ...op.set(K0),
        ...keep(B, BB, AA), ...op.set(K1),
        // A dropped entry counts as k·x = ±0 (its sign kept), as the scalar code's 0·x is: with two dropped -0
        // (negative weights) the sum is -0, which leaves a -0 in the base as it is.
        ...op.get(A), ...op.get(K0), ...op.vI32(SIGN), ...op.vOr, ...op.vAnd, ...op.set(A),
        ...op.get(B), ...op.get(K1), ...op.vI32(SIGN), ...op.vOr, ...op.vAnd, ...op.set(B),
        ...op.get(K0), ...op.get(K1), ...op.vOr, ...op.vNot, ...op.get(ALWAYSV), ...op.vOr, ...op.set(NONE),
        ...storeFour(BASE, LO, half),
        ...increment(BASE, 16), ...increment(X0, 16), ...increment(X1, 16),
      ]),
    ],
  };
}

/** sumPair(base, x0, x1, count; factor): base[j] += factor·(x0[j] + x1[j]). */
export function sumPair(): WasmFunction {
  const [BASE, X0, X1, N, FACTOR, END] = [0, 1, 2, 3, 4, 5];
  const [FV, A, B, BS, LO] = [6, 7, 8, 9, 10];
  const half = (h: 0 | 1): Code => [...widen(BS, h), ...op.get(FV), ...widen(A, h), ...widen(B, h), ...op.f64x2Add, ...op.f64x2Mul, ...op.f64x2Add];
  return {
    name: "sumPair",
    params: [I32, I32, I32, I32, F64],
    locals: [[1, I32], [5, V128]],
    body: [
      ...endOfVectors(BASE, N, END),
      ...op.get(FACTOR), ...op.f64x2Splat, ...op.set(FV),
      ...whileNot([...op.get(BASE), ...op.get(END), ...op.geU], [
        ...op.get(X0), ...op.vLoad(), ...op.set(A), ...op.get(X1), ...op.vLoad(), ...op.set(B), ...op.get(BASE), ...op.vLoad(), ...op.set(BS),
        ...storeFour(BASE, LO, half),
        ...increment(BASE, 16), ...increment(X0, 16), ...increment(X1, 16),
      ]),
    ],
  };
}

/** linearPair(out, other, count; w0, w1): out[j] = w0·out[j] + w1·other[j]. */
export function linearPair(): WasmFunction {
  const [OUT, OTHER, N, W0, W1, END] = [0, 1, 2, 3, 4, 5];
  const [W0V, W1V, A, B, LO] = [6, 7, 8, 9, 10];
  const half = (h: 0 | 1): Code => [...op.get(W0V), ...widen(A, h), ...op.f64x2Mul, ...op.get(W1V), ...widen(B, h), ...op.f64x2Mul, ...op.f64x2Add];
  return {
    name: "linearPair",
    params: [I32, I32, I32, F64, F64],
    locals: [[1, I32], [5, V128]],
    body: [
      ...endOfVectors(OUT, N, END),
      ...op.get(W0), ...op.f64x2Splat, ...op.set(W0V), ...op.get(W1), ...op.f64x2Splat, ...op.set(W1V),
      ...whileNot([...op.get(OUT), ...op.get(END), ...op.geU], [
        ...op.get(OUT), ...op.vLoad(), ...op.set(A), ...op.get(OTHER), ...op.vLoad(), ...op.set(B),
        ...storeFour(OUT, LO, half),
        ...increment(OUT, 16), ...increment(OTHER, 16),
      ]),
    ],
  };
}

/**
 * dareKeep(p, count, state, threshold, withL1) → L1: DARE's random mask, as dropRandom computes it: entry i
 * is kept when the top 31 bits of the i-th xoshiro128** draw fall below `threshold`, else zeroed. The stream
 * continues from the four state words at `state`, which are written back. With withL1, returns Σ|kept| in
 * index order (the L1 norm the rescale needs, in the same pass).
 */
export function dareKeep(): WasmFunction {
  const [P, N, S, TH, L1, END, A, B, C, D, T, V, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const xorInto = (target: number, other: number): Code => [...op.get(target), ...op.get(other), ...op.xor, ...op.set(target)];
  const loop = (withL1: boolean): Code =>
    whileNot([...op.get(P), ...op.get(END), ...op.geU], [
      // V = x & (((rotl(b·5, 7)·9 >>> 1) − threshold) >> 31)
      ...op.get(P), ...op.get(P), ...op.load(),
      ...op.get(B), ...op.i32(5), ...op.mul, ...op.i32(7), ...op.rotl, ...op.i32(9), ...op.mul,
      ...op.i32(1), ...op.shrU, ...op.get(TH), ...op.sub, ...op.i32(31), ...op.shrS, ...op.and, ...op.tee(V), ...op.store(),
      // the generator's step
      ...op.get(B), ...op.i32(9), ...op.shl, ...op.set(T),
      ...xorInto(C, A), ...xorInto(D, B), ...xorInto(B, C), ...xorInto(A, D), ...xorInto(C, T),
      ...op.get(D), ...op.i32(11), ...op.rotl, ...op.set(D),
      ...(withL1 ? [...op.get(ACC), ...op.get(V), ...op.i32(0x7fffffff), ...op.and, ...op.f32Reinterpret, ...op.f64PromoteF32, ...op.f64Add, ...op.set(ACC)] : []),
      ...increment(P, 4),
    ]);
  const word = (local: number, offset: number): Code => [...op.get(S), ...op.load(offset), ...op.set(local)];
  const saveWord = (local: number, offset: number): Code => [...op.get(S), ...op.get(local), ...op.store(offset)];
  return {
    name: "dareKeep",
    params: [I32, I32, I32, I32, I32],
    results: [F64],
    locals: [[7, I32], [1, F64]],
    body: [
      ...op.get(P), ...op.get(N), ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...word(A, 0), ...word(B, 4), ...word(C, 8), ...word(D, 12),
      ...op.get(L1), ...op.if, ...loop(true), ...op.else, ...loop(false), ...op.end,
      ...saveWord(A, 0), ...saveWord(B, 4), ...saveWord(C, 8), ...saveWord(D, 12),
      ...op.get(ACC),
    ],
  };
}

/** scale(p, count; factor): p[j] = p[j]·factor, in float64, rounded once. */
export function scale(): WasmFunction {
  const [P, N, FACTOR, END] = [0, 1, 2, 3];
  const [FV, X, LO] = [4, 5, 6];
  const half = (h: 0 | 1): Code => [...widen(X, h), ...op.get(FV), ...op.f64x2Mul];
  return {
    name: "scale",
    params: [I32, I32, F64],
    locals: [[1, I32], [3, V128]],
    body: [
      ...endOfVectors(P, N, END),
      ...op.get(FACTOR), ...op.f64x2Splat, ...op.set(FV),
      ...whileNot([...op.get(P), ...op.get(END), ...op.geU], [...op.get(P), ...op.vLoad(), ...op.set(X), ...storeFour(P, LO, half), ...increment(P, 16)]),
    ],
  };
}
