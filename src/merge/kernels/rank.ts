import { I32, V128, increment, op, whileNot, type Code, type WasmFunction } from "../../util/wasm-assembler.ts";

/**
 * Kernels of the rank selection in math/rank.ts (top-k by magnitude without sorting), same results bit for bit.
 * Pointers are byte addresses; a histogram is 65536 uint32 counters.
 */

const loop = (pointer: number, end: number, step: number, body: Code): Code =>
  whileNot([...op.get(pointer), ...op.get(end), ...op.geU], [...body, ...increment(pointer, step)]);

/** histHigh(p, count, hist): hist[|x| >>> 16]++ for every float32 bit pattern x at p. */
export function histHigh(): WasmFunction {
  const [P, N, H, END, ADDR] = [0, 1, 2, 3, 4];
  const bump = (offset: number): Code => [
    ...op.get(H), ...op.get(P), ...op.load(offset), ...op.i32(0x7fffffff), ...op.and, ...op.i32(16), ...op.shrU, ...op.i32(2), ...op.shl, ...op.add, ...op.set(ADDR),
    ...op.get(ADDR), ...op.get(ADDR), ...op.load(), ...op.i32(1), ...op.add, ...op.store(),
  ];
  return {
    name: "histHigh",
    params: [I32, I32, I32],
    locals: [[2, I32]],
    body: [
      ...op.get(P), ...op.get(N), ...op.i32(-4), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...loop(P, END, 16, [...bump(0), ...bump(4), ...bump(8), ...bump(12)]),
      ...op.get(P), ...op.get(N), ...op.i32(3), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...loop(P, END, 4, bump(0)),
    ],
  };
}

/** histLow(p, count, high, hist): hist[|x| & 0xffff]++ for the x at p with |x| >>> 16 = high. */
export function histLow(): WasmFunction {
  const [P, N, HIGH, H, END, X, K] = [0, 1, 2, 3, 4, 5, 6];
  const [HV] = [7];
  const scalar = (offset: number): Code => [
    ...op.get(P), ...op.load(offset), ...op.i32(0x7fffffff), ...op.and, ...op.set(X),
    ...op.get(X), ...op.i32(16), ...op.shrU, ...op.get(HIGH), ...op.eq, ...op.if,
    ...op.get(H), ...op.get(X), ...op.i32(0xffff), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(K),
    ...op.get(K), ...op.get(K), ...op.load(), ...op.i32(1), ...op.add, ...op.store(),
    ...op.end,
  ];
  return {
    name: "histLow",
    params: [I32, I32, I32, I32],
    locals: [[3, I32], [1, V128]],
    body: [
      ...op.get(HIGH), ...op.i32x4Splat, ...op.set(HV),
      ...op.get(P), ...op.get(N), ...op.i32(-4), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...loop(P, END, 16, [
        ...op.get(P), ...op.vLoad(), ...op.vI32(0x7fffffff), ...op.vAnd, ...op.i32(16), ...op.i32x4ShrU, ...op.get(HV), ...op.i32x4Eq, ...op.vAnyTrue,
        ...op.if, ...scalar(0), ...scalar(4), ...scalar(8), ...scalar(12), ...op.end,
      ]),
      ...op.get(P), ...op.get(N), ...op.i32(3), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...loop(P, END, 4, scalar(0)),
    ],
  };
}

/**
 * keepBand(p, count, a, b, aLess, bLess, lo, hi): zero every x at p with |x| < a or |x| > b; entries with |x| equal
 * to a (else b) take ranks aLess, aLess + 1, … (bLess, …) in index order and are zeroed when the rank falls
 * outside [lo, hi), as keepAbsRankRange does. Vectors with no tie are masked four lanes at a time.
 */
export function keepBand(): WasmFunction {
  const [P, N, A, B, ALESS, BLESS, LO, HI] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [END, X, RANK, SEEN_A, SEEN_B] = [8, 9, 10, 11, 12];
  const [V, XV, AV, BV] = [13, 14, 15, 16];
  const zero = (offset: number): Code => [...op.get(P), ...op.i32(0), ...op.store(offset)];
  const scalar = (offset: number): Code => [
    ...op.get(P), ...op.load(offset), ...op.i32(0x7fffffff), ...op.and, ...op.set(X),
    ...op.get(X), ...op.get(A), ...op.eq, ...op.get(X), ...op.get(B), ...op.eq, ...op.or,
    ...op.if,
    ...op.get(X), ...op.get(A), ...op.eq,
    ...op.if, ...op.get(ALESS), ...op.get(SEEN_A), ...op.add, ...op.set(RANK), ...increment(SEEN_A, 1),
    ...op.else, ...op.get(BLESS), ...op.get(SEEN_B), ...op.add, ...op.set(RANK), ...increment(SEEN_B, 1), ...op.end,
    ...op.get(RANK), ...op.get(LO), ...op.ltS, ...op.get(RANK), ...op.get(HI), ...op.geS, ...op.or, ...op.if, ...zero(offset), ...op.end,
    ...op.else,
    ...op.get(X), ...op.get(A), ...op.ltS, ...op.get(X), ...op.get(B), ...op.gtS, ...op.or, ...op.if, ...zero(offset), ...op.end,
    ...op.end,
  ];
  return {
    name: "keepBand",
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [[5, I32], [4, V128]],
    body: [
      ...op.get(A), ...op.i32x4Splat, ...op.set(AV), ...op.get(B), ...op.i32x4Splat, ...op.set(BV),
      ...op.get(P), ...op.get(N), ...op.i32(-4), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...loop(P, END, 16, [
        ...op.get(P), ...op.vLoad(), ...op.set(V),
        ...op.get(V), ...op.vI32(0x7fffffff), ...op.vAnd, ...op.set(XV),
        ...op.get(XV), ...op.get(AV), ...op.i32x4Eq, ...op.get(XV), ...op.get(BV), ...op.i32x4Eq, ...op.vOr, ...op.vAnyTrue,
        ...op.if, ...scalar(0), ...scalar(4), ...scalar(8), ...scalar(12),
        ...op.else,
        ...op.get(P), ...op.get(V), ...op.get(XV), ...op.get(AV), ...op.i32x4LtS, ...op.get(XV), ...op.get(BV), ...op.i32x4GtS, ...op.vOr, ...op.vAndNot, ...op.vStore(),
        ...op.end,
      ]),
      ...op.get(P), ...op.get(N), ...op.i32(3), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...loop(P, END, 4, scalar(0)),
    ],
  };
}
