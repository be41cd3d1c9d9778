/**
 * A minimal WebAssembly assembler for the SIMD kernels of the merge (src/merge/kernels) and of training
 * (src/train/wasm): the instructions they use, written as TypeScript that emits bytes, so the kernels are
 * written and reviewed as TypeScript and there is no toolchain at build time.
 */
export type Code = number[];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

export function uleb(value: number): Code {
  const out: Code = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

export function sleb(value: number): Code {
  const out: Code = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const simd = (opcode: number): Code => [0xfd, ...uleb(opcode)];
const memarg = (align: number, offset: number): Code => [align, ...uleb(offset)];
const f32Bytes = (...values: number[]): Code => [...new Uint8Array(Float32Array.from(values).buffer)];
const i32x4Bytes = (value: number): Code => [...new Uint8Array(Int32Array.from([value, value, value, value]).buffer)];
const i16x8Bytes = (value: number): Code => [...new Uint8Array(Int16Array.from(new Array<number>(8).fill(value)).buffer)];

/** Instructions, as byte sequences. Memory offsets are in bytes; v128 accesses need not be aligned. */
export const op = {
  get: (local: number): Code => [0x20, ...uleb(local)],
  set: (local: number): Code => [0x21, ...uleb(local)],
  tee: (local: number): Code => [0x22, ...uleb(local)],
  i32: (value: number): Code => [0x41, ...sleb(value)],
  eqz: [0x45],
  eq: [0x46],
  ne: [0x47],
  ltS: [0x48],
  ltU: [0x49],
  gtS: [0x4a],
  gtU: [0x4b],
  geS: [0x4e],
  geU: [0x4f],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  and: [0x71],
  or: [0x72],
  xor: [0x73],
  shl: [0x74],
  shrS: [0x75],
  shrU: [0x76],
  rotl: [0x77],
  select: [0x1b],
  load: (offset = 0): Code => [0x28, ...memarg(2, offset)],
  load16U: (offset = 0): Code => [0x2f, ...memarg(1, offset)],
  store: (offset = 0): Code => [0x36, ...memarg(2, offset)],
  store16: (offset = 0): Code => [0x3b, ...memarg(1, offset)],
  f32Load: (offset = 0): Code => [0x2a, ...memarg(2, offset)],
  f32Const: (value: number): Code => [0x43, ...f32Bytes(value)],
  f32Div: [0x95],
  f32Max: [0x97],
  f32Reinterpret: [0xbe],
  f32Add: [0x92],
  f64Abs: [0x99],
  f64Add: [0xa0],
  f64PromoteF32: [0xbb],
  i32Reinterpret: [0xbc],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number): Code => [0x0c, ...uleb(depth)],
  brIf: (depth: number): Code => [0x0d, ...uleb(depth)],
  return: [0x0f],

  vLoad: (offset = 0): Code => [...simd(0x00), ...memarg(4, offset)],
  vStore: (offset = 0): Code => [...simd(0x0b), ...memarg(4, offset)],
  /** Two float32 (8 bytes) into the low half, zeros above. */
  vLoad64Zero: (offset = 0): Code => [...simd(0x5d), ...memarg(3, offset)],
  /** The vector's low 8 bytes. */
  vStore64Low: (offset = 0): Code => [...simd(0x5b), ...memarg(3, offset), 0],
  /** Bytes of the result from bytes 0–15 of the first operand and 16–31 of the second. */
  i8x16Shuffle: (lanes: number[]): Code => [...simd(0x0d), ...lanes],
  /** Four int32 lanes of `value`. */
  vI32: (value: number): Code => [...simd(0x0c), ...i32x4Bytes(value)],
  vZero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  /** Four float32 lanes of `value`. */
  vSplatConst: (value: number): Code => [...simd(0x0c), ...f32Bytes(value, value, value, value)],
  /** The int32 lanes 0, 1, 2, 3. */
  vLaneIndex: [...simd(0x0c), ...new Uint8Array(Int32Array.from([0, 1, 2, 3]).buffer)],
  /** Eight int16 lanes of `value`. */
  vI16: (value: number): Code => [...simd(0x0c), ...i16x8Bytes(value)],
  i32x4Splat: simd(0x11),
  f32x4Splat: simd(0x13),
  f32x4ExtractLane: (lane: number): Code => [...simd(0x1f), lane],
  f64x2Splat: simd(0x14),
  f64x2ExtractLane: (lane: number): Code => [...simd(0x21), lane],
  i16x8Eq: simd(0x2d),
  i32x4Eq: simd(0x37),
  i32x4LtS: simd(0x39),
  i32x4GtS: simd(0x3b),
  vNot: simd(0x4d),
  vAnd: simd(0x4e),
  vAndNot: simd(0x4f),
  vOr: simd(0x50),
  vXor: simd(0x51),
  /** bitselect(a, b, mask) = a where mask bits are set, else b. */
  vBitselect: simd(0x52),
  vAnyTrue: simd(0x53),
  f32x4DemoteF64x2Zero: simd(0x5e),
  f64x2PromoteLowF32x4: simd(0x5f),
  f64x2Eq: simd(0x47),
  i16x8NarrowI32x4U: simd(0x86),
  i32x4ExtendLowI16x8U: simd(0xa9),
  i32x4ExtendHighI16x8U: simd(0xaa),
  i32x4Shl: simd(0xab),
  i32x4ShrU: simd(0xad),
  i32x4Add: simd(0xae),
  i32x4Sub: simd(0xb1),
  i64x2ExtendLowI32x4S: simd(0xc7),
  i64x2ExtendHighI32x4S: simd(0xc8),
  f32x4Nearest: simd(0x6a),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Min: simd(0xe8),
  f32x4Max: simd(0xe9),
  i32x4TruncSatF32x4S: simd(0xf8),
  f64x2Abs: simd(0xec),
  f64x2Add: simd(0xf0),
  f64x2Sub: simd(0xf1),
  f64x2Mul: simd(0xf2),
  f64x2Div: simd(0xf3),
};

/** `while (!exitCondition) body`: the condition code leaves an i32, non-zero to leave the loop. */
export function whileNot(exitCondition: Code, body: Code): Code {
  return [...op.block, ...op.loop, ...exitCondition, ...op.brIf(1), ...body, ...op.br(0), ...op.end, ...op.end];
}

export const increment = (local: number, by: number): Code => [...op.get(local), ...op.i32(by), ...op.add, ...op.set(local)];

export interface WasmFunction {
  name: string;
  /** Parameter types (locals 0 … params.length − 1). */
  params: number[];
  /** Result types: none, or one. */
  results?: number[];
  /** Extra locals, as [count, type] runs, numbered after the parameters. */
  locals: [number, number][];
  body: Code;
}

const vector = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body];
const name = (text: string): Code => vector([...text].map((c) => [c.charCodeAt(0)]));

/** A module importing one shared memory as env.memory (at most `maxPages` pages) and exporting `functions`. */
export function assembleModule(functions: readonly WasmFunction[], maxPages: number): Uint8Array {
  const types = section(1, vector(functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), ...vector((f.results ?? []).map((r) => [r]))])));
  const SHARED_WITH_MAX = 0x03;
  const imports = section(2, vector([[...name("env"), ...name("memory"), 0x02, SHARED_WITH_MAX, 1, ...uleb(maxPages)]]));
  const declarations = section(3, vector(functions.map((_, i) => uleb(i))));
  const exports = section(7, vector(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])));
  const bodies = functions.map((f) => {
    const locals = f.locals.filter(([count]) => count > 0);
    const body = [...vector(locals.map(([count, type]) => [...uleb(count), type])), ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  const code = section(10, vector(bodies));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...declarations, ...exports, ...code]);
}
