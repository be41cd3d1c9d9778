import { I32, V128, increment, op, whileNot, type Code, type WasmFunction } from "../../util/wasm-assembler.ts";

/**
 * Float conversion kernels on 128-bit vectors, bit for bit the scalar code in safetensors/dtype.ts (round to
 * nearest even; a NaN read from float16 is the canonical quiet NaN, as the lookup table gives; a float32 NaN
 * keeps its sign and top payload bits in bfloat16). They process whole vectors only and return; the caller
 * converts the last (count mod 8) values with the scalar code. Pointers are byte addresses.
 */

const vecLoop = (pointer: number, end: number, step: number, body: Code): Code =>
  whileNot([...op.get(pointer), ...op.get(end), ...op.geU], [...body, ...increment(pointer, step)]);

/** nonFiniteF32(p, count): 1 when some of the first count − count mod 16 floats at p is NaN or ±Inf. */
export function nonFiniteF32(): WasmFunction {
  const [P, N, END] = [0, 1, 2];
  const [ACC, MASK] = [3, 4];
  const test = (offset: number): Code => [...op.get(P), ...op.vLoad(offset), ...op.get(MASK), ...op.vAnd, ...op.get(MASK), ...op.i32x4Eq, ...op.get(ACC), ...op.vOr, ...op.set(ACC)];
  return {
    name: "nonFiniteF32",
    params: [I32, I32],
    results: [I32],
    locals: [[1, I32], [2, V128]],
    body: [
      ...op.get(P), ...op.get(N), ...op.i32(-16), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...op.vI32(0), ...op.set(ACC), ...op.vI32(0x7f800000), ...op.set(MASK),
      ...vecLoop(P, END, 64, [...test(0), ...test(16), ...test(32), ...test(48)]),
      ...op.get(ACC), ...op.vAnyTrue,
    ],
  };
}

/**
 * widenBf16(dst, src, count): the first count − count mod 8 bfloat16 values at src as float32 at dst; src may be
 * the upper half of dst's span (read ahead of the writes). Returns 1 when some value is NaN or ±Inf.
 */
export function widenBf16(): WasmFunction {
  const [D, S, N, END] = [0, 1, 2, 3];
  const [V, ACC, MASK] = [4, 5, 6];
  return {
    name: "widenBf16",
    params: [I32, I32, I32],
    results: [I32],
    locals: [[1, I32], [3, V128]],
    body: [
      ...op.get(S), ...op.get(N), ...op.i32(-8), ...op.and, ...op.i32(1), ...op.shl, ...op.add, ...op.set(END),
      ...op.vI32(0), ...op.set(ACC), ...op.vI16(0x7f80), ...op.set(MASK),
      ...vecLoop(S, END, 16, [
        ...op.get(S), ...op.vLoad(), ...op.set(V),
        ...op.get(V), ...op.get(MASK), ...op.vAnd, ...op.get(MASK), ...op.i16x8Eq, ...op.get(ACC), ...op.vOr, ...op.set(ACC),
        ...op.get(D), ...op.get(V), ...op.i32x4ExtendLowI16x8U, ...op.i32(16), ...op.i32x4Shl, ...op.vStore(0),
        ...op.get(D), ...op.get(V), ...op.i32x4ExtendHighI16x8U, ...op.i32(16), ...op.i32x4Shl, ...op.vStore(16),
        ...increment(D, 32),
      ]),
      ...op.get(ACC), ...op.vAnyTrue,
    ],
  };
}

/**
 * widenF16(dst, src, count): as widenBf16 for float16. (h & 0x7fff) << 13 read as a float32 and multiplied by
 * 2^112 is exact for normal and subnormal values; exponent 31 gives ±Inf, or the canonical NaN.
 */
export function widenF16(): WasmFunction {
  const [D, S, N, END] = [0, 1, 2, 3];
  const [V, ACC, H, ABS, NAN] = [4, 5, 6, 7, 8];
  const half = (extend: Code, offset: number): Code => [
    ...op.get(V), ...extend, ...op.set(H),
    ...op.get(H), ...op.vI32(0x7fff), ...op.vAnd, ...op.set(ABS),
    ...op.get(ABS), ...op.vI32(0x7c00), ...op.i32x4GtS, ...op.set(NAN),
    ...op.get(D),
    // special = NaN ? 0x7fc00000 : 0x7f800000; value = exponent 31 ? special : abs·2^112
    ...op.vI32(0x7fc00000), ...op.vI32(0x7f800000), ...op.get(NAN), ...op.vBitselect,
    ...op.get(ABS), ...op.i32(13), ...op.i32x4Shl, ...op.vI32(0x77800000), ...op.f32x4Mul,
    ...op.get(H), ...op.vI32(0x7c00), ...op.vAnd, ...op.vI32(0x7c00), ...op.i32x4Eq,
    ...op.vBitselect,
    // | sign, except for NaN
    ...op.get(H), ...op.vI32(0x8000), ...op.vAnd, ...op.i32(16), ...op.i32x4Shl, ...op.get(NAN), ...op.vAndNot, ...op.vOr,
    ...op.vStore(offset),
  ];
  return {
    name: "widenF16",
    params: [I32, I32, I32],
    results: [I32],
    locals: [[1, I32], [5, V128]],
    body: [
      ...op.get(S), ...op.get(N), ...op.i32(-8), ...op.and, ...op.i32(1), ...op.shl, ...op.add, ...op.set(END),
      ...op.vI32(0), ...op.set(ACC),
      ...vecLoop(S, END, 16, [
        ...op.get(S), ...op.vLoad(), ...op.set(V),
        ...op.get(V), ...op.vI16(0x7c00), ...op.vAnd, ...op.vI16(0x7c00), ...op.i16x8Eq, ...op.get(ACC), ...op.vOr, ...op.set(ACC),
        ...half(op.i32x4ExtendLowI16x8U, 0),
        ...half(op.i32x4ExtendHighI16x8U, 16),
        ...increment(D, 32),
      ]),
      ...op.get(ACC), ...op.vAnyTrue,
    ],
  };
}

/** The float32 bits in vector local X → 16-bit result in the low half of each lane, left on the stack. */
type Narrowing = (x: number, t: number) => Code;

const toBf16: Narrowing = (x) => [
  // NaN (|x| > 0x7f800000) ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16
  ...op.get(x), ...op.i32(16), ...op.i32x4ShrU, ...op.vI32(0x40), ...op.vOr,
  ...op.get(x), ...op.vI32(0x7fff), ...op.i32x4Add, ...op.get(x), ...op.i32(16), ...op.i32x4ShrU, ...op.vI32(1), ...op.vAnd, ...op.i32x4Add, ...op.i32(16), ...op.i32x4ShrU,
  ...op.get(x), ...op.vI32(0x7fffffff), ...op.vAnd, ...op.vI32(0x7f800000), ...op.i32x4GtS,
  ...op.vBitselect,
];

/**
 * float32 → float16, round to nearest even (F. Giesen's float_to_half_fast3_rtne): subnormal results by a float
 * addition of 0.5, which rounds in hardware; normal ones by adding 0xfff plus the odd bit; ±Inf, NaN (0x7e00)
 * and overflow selected; the sign ORed back.
 */
const toF16: Narrowing = (x, abs) => [
  ...op.get(x), ...op.vI32(0x7fffffff), ...op.vAnd, ...op.set(abs),
  // overflow ? (NaN ? 0x7e00 : 0x7c00) : (subnormal ? (float(abs) + 0.5) − 0.5's bits : normal)
  ...op.vI32(0x7e00), ...op.vI32(0x7c00), ...op.get(abs), ...op.vI32(0x7f800000), ...op.i32x4GtS, ...op.vBitselect,
  ...op.get(abs), ...op.vI32(0x3f000000), ...op.f32x4Add, ...op.vI32(0x3f000000), ...op.i32x4Sub,
  ...op.get(abs), ...op.vI32((-(112 << 23) + 0xfff) | 0), ...op.i32x4Add, ...op.get(abs), ...op.i32(13), ...op.i32x4ShrU, ...op.vI32(1), ...op.vAnd, ...op.i32x4Add, ...op.i32(13), ...op.i32x4ShrU,
  ...op.get(abs), ...op.vI32(0x38800000), ...op.i32x4LtS,
  ...op.vBitselect,
  ...op.get(abs), ...op.vI32(0x477fffff), ...op.i32x4GtS,
  ...op.vBitselect,
  ...op.get(x), ...op.i32(16), ...op.i32x4ShrU, ...op.vI32(0x8000), ...op.vAnd, ...op.vOr,
];

/** encode(p, count): the first count − count mod 8 float32 values at p narrowed in place to 16 bits at p. */
function encode(name: string, narrowing: Narrowing): WasmFunction {
  const [P, N, END, W] = [0, 1, 2, 3];
  const [A, B, T] = [4, 5, 6];
  return {
    name,
    params: [I32, I32],
    locals: [[2, I32], [3, V128]],
    body: [
      ...op.get(P), ...op.set(W),
      ...op.get(P), ...op.get(N), ...op.i32(-8), ...op.and, ...op.i32(2), ...op.shl, ...op.add, ...op.set(END),
      ...vecLoop(P, END, 32, [
        ...op.get(P), ...op.vLoad(0), ...op.set(A), ...op.get(P), ...op.vLoad(16), ...op.set(B),
        ...op.get(W), ...narrowing(A, T), ...narrowing(B, T), ...op.i16x8NarrowI32x4U, ...op.vStore(0),
        ...increment(W, 16),
      ]),
    ],
  };
}

export const encodeBf16 = (): WasmFunction => encode("encodeBf16", toBf16);
export const encodeF16 = (): WasmFunction => encode("encodeF16", toF16);
