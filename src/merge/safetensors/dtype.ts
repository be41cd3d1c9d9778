/** Safetensors dtypes: byte sizes for header validation, and float32 conversion for the ones we merge. */
import { kernelsOf } from "../kernels/runtime.ts";

export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

export const FLOAT_DTYPES = ["F32", "F16", "BF16"] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(dtype);
}

/** mergekit spells dtypes the torch way; accept those with or without the `torch.` prefix. */
const CONFIG_DTYPES: Readonly<Record<string, FloatDtype>> = {
  float32: "F32", float: "F32", float16: "F16", half: "F16", bfloat16: "BF16",
};

export function parseConfigDtype(name: string): FloatDtype | undefined {
  return CONFIG_DTYPES[name.replace(/^torch\./, "")];
}

export const TORCH_DTYPE_NAME: Readonly<Record<FloatDtype, string>> = {
  F32: "float32", F16: "float16", BF16: "bfloat16",
};

// float16 → float32 through a 64K-entry table: one lookup per element.
let f16Table: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = table);
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float32 value → float16 bits, round to nearest even (as torch's `.half()`). */
export function floatToHalfBits(value: number): number {
  scratch[0] = value;
  return floatBitsToHalf(scratchBits[0]!);
}

/** float32 bits → float16 bits, round to nearest even. */
export function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let out = mant >>> shift;
    if (rest > half || (rest === half && out & 1)) out++;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out++; // may carry into the exponent: that is correct rounding
  return sign | out;
}

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
export function floatBitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Widen `count` 16-bit values stored at byte `srcByte` of `f32.buffer` into `f32[0..count)`, in place.
 * The raw values must sit in the upper half of the buffer (srcByte ≥ 2·count), so a forward pass never
 * overwrites a value it has yet to read: a bf16/f16 tensor costs its float32 size and nothing more.
 * Returns true when some value is NaN or ±Inf (detected in the same pass, without branches).
 */
export function widenInPlace(f32: Float32Array, srcByte: number, count: number, dtype: "F16" | "BF16"): boolean {
  const src = new Uint16Array(f32.buffer, f32.byteOffset + srcByte, count);
  let nonFinite = 0;
  // In the working memory, SIMD kernels take whole vectors of 8 (same bits); the rest continues below.
  const kernels = kernelsOf(f32);
  let start = 0;
  if (kernels) {
    start = count & ~7;
    const widen = dtype === "BF16" ? kernels.exports.widenBf16 : kernels.exports.widenF16;
    nonFinite = widen(f32.byteOffset, f32.byteOffset + srcByte, start);
  }
  if (dtype === "BF16") {
    const dst = new Int32Array(f32.buffer, f32.byteOffset, count);
    for (let i = start; i < count; i++) {
      const h = src[i]!;
      nonFinite |= ((h & 0x7f80) + 0x80) >> 15; // 1 exactly when the exponent bits are all ones
      dst[i] = h << 16;
    }
  } else {
    const table = halfToFloatTable();
    for (let i = start; i < count; i++) {
      const h = src[i]!;
      nonFinite |= ((h & 0x7c00) + 0x400) >> 15;
      f32[i] = table[h]!;
    }
  }
  return nonFinite !== 0;
}

/** True when some float32 value is NaN or ±Inf; one branch-free pass over the bits. */
export function hasNonFinite(values: Float32Array): boolean {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  let nonFinite = 0;
  const kernels = kernelsOf(values);
  let start = 0;
  if (kernels) {
    start = bits.length & ~15;
    if (kernels.exports.nonFiniteF32(values.byteOffset, start)) return true;
  }
  for (let i = start; i < bits.length; i++) nonFinite |= ((bits[i]! >>> 23) & 0xff) + 1;
  return (nonFinite & 0x100) !== 0;
}

/**
 * Narrow float32 values to `dtype` bytes in place (the result occupies the first bytes of the same buffer).
 * Returns a view of exactly the encoded bytes.
 */
export function encodeInPlace(values: Float32Array, dtype: FloatDtype): Uint8Array {
  const n = values.length;
  if (dtype === "F32") return new Uint8Array(values.buffer, values.byteOffset, n * 4);
  const dst = new Uint16Array(values.buffer, values.byteOffset, n);
  const kernels = kernelsOf(values);
  let start = 0;
  if (kernels) {
    start = n & ~7;
    (dtype === "BF16" ? kernels.exports.encodeBf16 : kernels.exports.encodeF16)(values.byteOffset, start);
  }
  const bits = new Int32Array(values.buffer, values.byteOffset, n);
  if (dtype === "BF16") for (let i = start; i < n; i++) dst[i] = floatBitsToBf16(bits[i]!);
  else for (let i = start; i < n; i++) dst[i] = floatBitsToHalf(bits[i]!);
  return new Uint8Array(values.buffer, values.byteOffset, n * 2);
}

/** Round float32 values through `dtype` and back: mergekit casts inputs to the config `dtype` at load. */
export function roundThrough(values: Float32Array, dtype: FloatDtype): void {
  if (dtype === "F32") return;
  const n = values.length;
  if (dtype === "BF16") {
    const bits = new Int32Array(values.buffer, values.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = floatBitsToBf16(bits[i]!) << 16;
  } else {
    const table = halfToFloatTable();
    const bits = new Int32Array(values.buffer, values.byteOffset, n);
    for (let i = 0; i < n; i++) values[i] = table[floatBitsToHalf(bits[i]!)]!;
  }
}

/** Decode a small encoded buffer into a new Float32Array (tests and tools; merges use the in-place path). */
export function decodeToFloat32(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  const count = bytes.byteLength / DTYPE_BYTES[dtype]!;
  if (dtype === "F32") {
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const wide = new Float32Array(count);
  const upper = new Uint8Array(wide.buffer, count * 2, count * 2);
  upper.set(bytes);
  widenInPlace(wide, count * 2, count, dtype);
  return wide;
}
