/**
 * A minimal WebAssembly binary assembler: just the instructions and sections the training kernels need, so the
 * kernels are written (and reviewed) as TypeScript that emits bytes, with no toolchain at build time.
 */
export type Code = number[];

export const I32 = 0x7f;
export const F32 = 0x7d;
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

const SIMD = 0xfd;
const ALIGN_4 = 2;
const simd = (opcode: number): Code => [SIMD, ...uleb(opcode)];

/** Little-endian bytes of float32 values. */
function f32Bytes(...values: number[]): Code {
  return [...new Uint8Array(Float32Array.from(values).buffer)];
}

/** Instructions, as byte sequences. Memory offsets are in bytes; v128 accesses need not be aligned. */
export const op = {
  get: (local: number): Code => [0x20, ...uleb(local)],
  set: (local: number): Code => [0x21, ...uleb(local)],
  tee: (local: number): Code => [0x22, ...uleb(local)],
  i32: (value: number): Code => [0x41, ...sleb(value)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  shl: [0x74],
  shrU: [0x76],
  geS: [0x4e],
  gtS: [0x4a],
  f32Load: (offset: number): Code => [0x2a, ALIGN_4, ...uleb(offset)],
  f32Const: (value: number): Code => [0x43, ...f32Bytes(value)],
  f32Add: [0x92],
  f32Div: [0x95],
  f32Max: [0x97],
  vLoad: (offset: number): Code => [SIMD, 0, ALIGN_4, ...uleb(offset)],
  vStore: (offset: number): Code => [SIMD, 11, ALIGN_4, ...uleb(offset)],
  vZero: [SIMD, 12, ...new Array<number>(16).fill(0)],
  /** Four float32 lanes of `value`. */
  vSplatConst: (value: number): Code => [SIMD, 12, ...f32Bytes(value, value, value, value)],
  /** The int32 lanes 0, 1, 2, 3. */
  vLaneIndex: [SIMD, 12, ...new Uint8Array(Int32Array.from([0, 1, 2, 3]).buffer)],
  vAnd: simd(0x4e),
  vBitselect: simd(0x52),
  f32x4Splat: simd(0x13),
  f32x4ExtractLane: (lane: number): Code => [...simd(0x1f), lane],
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Min: simd(0xe8),
  f32x4Max: simd(0xe9),
  f32x4Nearest: simd(0x6a),
  i32x4Splat: simd(0x11),
  i32x4LtS: simd(0x39),
  i32x4Add: simd(0xae),
  i32x4Shl: simd(0xab),
  i32x4TruncSatF32x4S: simd(0xf8),
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number): Code => [0x0c, ...uleb(depth)],
  brIf: (depth: number): Code => [0x0d, ...uleb(depth)],
};

/** `while (condition) body`: the condition code leaves an i32 that is non-zero to leave the loop. */
export function whileNot(exitCondition: Code, body: Code): Code {
  return [...op.block, ...op.loop, ...exitCondition, ...op.brIf(1), ...body, ...op.br(0), ...op.end, ...op.end];
}

export interface WasmFunction {
  name: string;
  params: number[];
  /** Extra locals, as [count, type] runs; numbered after the parameters. */
  locals: [number, number][];
  body: Code;
}

const vector = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body];
const name = (text: string): Code => vector([...text].map((c) => [c.charCodeAt(0)]));

/** A module importing one shared memory as env.memory (at most `maxPages` pages) and exporting `functions`. */
export function assembleModule(functions: readonly WasmFunction[], maxPages: number): Uint8Array {
  const types = section(1, vector(functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), 0])));
  const SHARED_WITH_MAX = 0x03;
  const imports = section(2, vector([[...name("env"), ...name("memory"), 0x02, SHARED_WITH_MAX, 1, ...uleb(maxPages)]]));
  const declarations = section(3, vector(functions.map((_, i) => uleb(i))));
  const exports = section(7, vector(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])));
  const bodies = functions.map((f) => {
    const body = [...vector(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  const code = section(10, vector(bodies));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...declarations, ...exports, ...code]);
}
