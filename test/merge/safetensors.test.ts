import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectInputError } from "../expect-input-error.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import {
  decodeToFloat32,
  encodeInPlace,
  floatBitsToBf16,
  floatBitsToHalf,
  floatToHalfBits,
  widenInPlace,
  type FloatDtype,
} from "../../src/merge/safetensors/dtype.ts";
import { MAX_HEADER_BYTES, readSafetensorsHeader } from "../../src/merge/safetensors/header.ts";
import { saveCheckpoint, type TensorToSave } from "../../src/merge/safetensors/save.ts";
import { planShards, type PlannedTensor } from "../../src/merge/safetensors/writer.ts";

// ---------------------------------------------------------------------------------------------------------------
// Helpers independent of the code under test.

/** float32 bits of a JS number (after rounding to float32). */
function f32Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return view.getUint32(0, true);
}

/** The float32 value with the given bits. */
function f32FromBits(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits >>> 0, true);
  return view.getFloat32(0, true);
}

/** Little-endian bytes of 16-bit patterns. */
function u16Bytes(patterns: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(patterns.length * 2);
  const view = new DataView(bytes.buffer);
  patterns.forEach((p, i) => view.setUint16(i * 2, p, true));
  return bytes;
}

/** 16-bit patterns from little-endian bytes. */
function u16Patterns(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength / 2 }, (_, i) => view.getUint16(i * 2, true));
}

const decode16 = (patterns: readonly number[], dtype: "F16" | "BF16") => Array.from(decodeToFloat32(u16Bytes(patterns), dtype));
const encode16 = (values: readonly number[], dtype: "F16" | "BF16") => u16Patterns(encodeInPlace(Float32Array.from(values), dtype));

const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x03ff) !== 0;
const isBf16NaN = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x007f) !== 0;

/** A raw safetensors file: u64 LE header length, the header text, then the data bytes. */
function rawSafetensors(header: string | object, data: Uint8Array | number = 0, lengthOverride?: bigint): Buffer {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(lengthOverride ?? BigInt(json.byteLength), 0);
  const body = typeof data === "number" ? Buffer.alloc(data) : Buffer.from(data);
  return Buffer.concat([length, json, body]);
}

/** Parses a safetensors file by hand: header length, header object, data section start. */
async function parseByHand(file: string): Promise<{ headerLength: number; header: Record<string, any>; dataStart: number; size: number }> {
  const bytes = await readFile(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, any>;
  return { headerLength, header, dataStart: 8 + headerLength, size: bytes.byteLength };
}

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-safetensors-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
async function freshDir(label: string): Promise<string> {
  const dir = join(root, `${label}-${++counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function readBack(dir: string): Promise<Map<string, { dtype: string; shape: number[]; values: number[] }>> {
  const checkpoint = await Checkpoint.open(dir);
  try {
    const out = new Map<string, { dtype: string; shape: number[]; values: number[] }>();
    for (const [name, entry] of checkpoint.tensors) {
      const bytes = new Uint8Array(entry.byteLength);
      await checkpoint.readInto(entry, bytes);
      out.set(name, { dtype: entry.dtype, shape: entry.shape, values: Array.from(decodeToFloat32(bytes, entry.dtype as FloatDtype)) });
    }
    return out;
  } finally {
    await checkpoint.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe("bf16 ↔ float32", () => {
  it("decodes hand-worked bit patterns", () => {
    expect(decode16([0x3f80, 0xc000, 0x0000, 0x8000, 0x4049, 0x3f00, 0x7f80, 0xff80], "BF16")).toEqual([
      1, -2, 0, -0, 3.140625, 0.5, Infinity, -Infinity,
    ]);
    expect(Object.is(decode16([0x8000], "BF16")[0], -0)).toBe(true);
    expect(decode16([0x0001], "BF16")[0]).toBe(2 ** -133); // bf16 subnormal = float32 subnormal
    expect(decode16([0x7f7f], "BF16")[0]).toBe((2 - 2 ** -7) * 2 ** 127); // largest finite bf16
    expect(decode16([0x7fc0], "BF16")[0]).toBeNaN();
    expect(decode16([0x7f81], "BF16")[0]).toBeNaN();
  });

  it("rounds float32 to nearest, ties to even", () => {
    expect(floatBitsToBf16(0x3f800000)).toBe(0x3f80); // exact
    expect(floatBitsToBf16(0x3f808000)).toBe(0x3f80); // tie, 0x3F80 even: down
    expect(floatBitsToBf16(0x3f818000)).toBe(0x3f82); // tie, 0x3F81 odd: up
    expect(floatBitsToBf16(0x3f808001)).toBe(0x3f81); // just above the tie: up
    expect(floatBitsToBf16(0x3f807fff)).toBe(0x3f80); // just below the tie: down
    expect(floatBitsToBf16(0xbf818000)).toBe(0xbf82); // same with a sign
    expect(floatBitsToBf16(0x3f80ffff)).toBe(0x3f81);
    expect(floatBitsToBf16(0x3fffffff)).toBe(0x4000); // carry into the exponent
    expect(floatBitsToBf16(0x7f7fffff)).toBe(0x7f80); // float32 max rounds past the largest bf16: Infinity
    expect(floatBitsToBf16(0xff7fffff)).toBe(0xff80);
    expect(floatBitsToBf16(0x7f800000)).toBe(0x7f80);
    expect(floatBitsToBf16(0x80000000)).toBe(0x8000);
    // through encodeInPlace too
    expect(encode16([f32FromBits(0x3f808000), f32FromBits(0x3f818000), 1, -2], "BF16")).toEqual([0x3f80, 0x3f82, 0x3f80, 0xc000]);
  });

  it("keeps NaN a NaN (including NaNs whose payload sits in the low 16 bits)", () => {
    for (const bits of [0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0xff800001, 0x7fffffff]) {
      expect(isBf16NaN(floatBitsToBf16(bits)), bits.toString(16)).toBe(true);
    }
    expect(isBf16NaN(encode16([NaN], "BF16")[0]!)).toBe(true);
  });
});

describe("f16 ↔ float32", () => {
  it("decodes hand-worked bit patterns", () => {
    expect(decode16([0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x3555, 0x7c00, 0xfc00, 0x0000], "F16")).toEqual([
      1,
      -2,
      65504,
      2 ** -14, // smallest normal
      2 ** -24, // smallest subnormal
      1023 * 2 ** -24, // largest subnormal
      0.333251953125,
      Infinity,
      -Infinity,
      0,
    ]);
    expect(Object.is(decode16([0x8000], "F16")[0], -0)).toBe(true);
    expect(decode16([0x8001], "F16")[0]).toBe(-(2 ** -24));
    expect(decode16([0x7e00], "F16")[0]).toBeNaN();
    expect(decode16([0x7c01], "F16")[0]).toBeNaN();
    expect(decode16([0xfe00], "F16")[0]).toBeNaN();
  });

  it("encodes hand-worked values", () => {
    expect(floatToHalfBits(1)).toBe(0x3c00);
    expect(floatToHalfBits(-2)).toBe(0xc000);
    expect(floatToHalfBits(65504)).toBe(0x7bff);
    expect(floatToHalfBits(2 ** -14)).toBe(0x0400);
    expect(floatToHalfBits(2 ** -24)).toBe(0x0001);
    expect(floatToHalfBits(0)).toBe(0x0000);
    expect(floatToHalfBits(-0)).toBe(0x8000);
    expect(floatToHalfBits(Infinity)).toBe(0x7c00);
    expect(floatToHalfBits(-Infinity)).toBe(0xfc00);
  });

  it("rounds to nearest, ties to even, overflowing to Infinity", () => {
    expect(floatToHalfBits(65519)).toBe(0x7bff); // below the midpoint to 65536: stays finite
    expect(floatToHalfBits(65520)).toBe(0x7c00); // the midpoint, 0x7BFF odd: rounds up into Infinity
    expect(floatToHalfBits(-65520)).toBe(0xfc00);
    expect(floatToHalfBits(1e6)).toBe(0x7c00);
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie, 0x3C00 even: down
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, 0x3C01 odd: up
    expect(floatToHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie: up
    expect(floatToHalfBits(2 - 2 ** -12)).toBe(0x4000); // carry into the exponent
    // subnormal range
    expect(floatToHalfBits(2 ** -25)).toBe(0x0000); // half the smallest subnormal, tie to even 0
    expect(floatToHalfBits(2 ** -25 * 1.5)).toBe(0x0001);
    expect(floatToHalfBits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: tie to even 2
    expect(floatToHalfBits(5 * 2 ** -25)).toBe(0x0002); // 2.5 units: tie to even 2
    expect(floatToHalfBits(2 ** -26)).toBe(0x0000);
    expect(floatToHalfBits(-(2 ** -30))).toBe(0x8000);
    expect(floatToHalfBits(2 ** -14 - 2 ** -25)).toBe(0x0400); // largest subnormal + half a unit, 0x3FF odd: up into the normals
    // float32 subnormals
    expect(floatBitsToHalf(0x00000001)).toBe(0x0000);
    // through encodeInPlace too
    expect(encode16([65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24], "F16")).toEqual([0x7c00, 0x3c00, 0x3c02, 0x0001]);
  });

  it("keeps NaN a NaN", () => {
    for (const bits of [0x7fc00000, 0xffc00000, 0x7f800001, 0x7f802000, 0x7fffffff]) {
      expect(isHalfNaN(floatBitsToHalf(bits)), bits.toString(16)).toBe(true);
    }
    expect(isHalfNaN(floatToHalfBits(NaN))).toBe(true);
    expect(isHalfNaN(encode16([NaN], "F16")[0]!)).toBe(true);
  });
});

describe.each(["BF16", "F16"] as const)("%s: all 65536 bit patterns through widenInPlace / encodeInPlace", (dtype) => {
  const isNaN16 = dtype === "BF16" ? isBf16NaN : isHalfNaN;

  it("map back to themselves, NaNs to a NaN", () => {
    const n = 65536;
    const f32 = new Float32Array(n);
    const upper = new Uint16Array(f32.buffer, n * 2, n); // raw values in the upper half, as the contract says
    for (let h = 0; h < n; h++) upper[h] = h;
    widenInPlace(f32, n * 2, n, dtype);
    const widened = Float32Array.from(f32);
    const encoded = u16Patterns(encodeInPlace(f32, dtype));
    let mismatches = 0;
    for (let h = 0; h < n; h++) {
      const nan = isNaN16(h);
      if (Number.isNaN(widened[h]!) !== nan) mismatches++;
      if (nan) {
        if (!isNaN16(encoded[h]!)) mismatches++;
      } else if (encoded[h] !== h) {
        mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it("widen to increasing values over the positive finite range, symmetric in the sign bit", () => {
    const max = dtype === "BF16" ? 0x7f7f : 0x7bff;
    const patterns = Array.from({ length: max + 1 }, (_, h) => h);
    const pos = decode16(patterns, dtype);
    const neg = decode16(patterns.map((h) => h | 0x8000), dtype);
    for (let h = 1; h <= max; h++) {
      if (!(pos[h]! > pos[h - 1]!)) throw new Error(`not increasing at 0x${h.toString(16)}`);
      if (!Object.is(neg[h], -pos[h]!)) throw new Error(`sign asymmetry at 0x${h.toString(16)}`);
    }
    expect(pos[max]).toBe(dtype === "BF16" ? f32FromBits(0x7f7f0000) : 65504);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("saveCheckpoint → Checkpoint.open round trip", () => {
  const tensors = (): TensorToSave[] => [
    { name: "a.f32", dtype: "F32", shape: [2, 3], values: Float32Array.from([1, -2.5, 3.25, 1e-30, -1e30, 0.1]) },
    { name: "b.f16", dtype: "F16", shape: [5], values: Float32Array.from([1, -2, 65504, 2 ** -24, 0.333251953125]) },
    { name: "c.bf16", dtype: "BF16", shape: [2, 2], values: Float32Array.from([1, -2, 3.140625, 2 ** -133]) },
    { name: "d.scalar", dtype: "F32", shape: [], values: Float32Array.from([42]) },
    { name: "e.é-unicode", dtype: "BF16", shape: [1, 1, 3], values: Float32Array.from([0.5, -0.5, 256]) },
  ];

  it("reads back the same dtypes, shapes and values", async () => {
    const dir = await freshDir("roundtrip");
    const input = tensors();
    await saveCheckpoint(dir, input);
    expect(await readdir(dir)).toEqual(["model.safetensors"]);
    const back = await readBack(dir);
    expect([...back.keys()].sort()).toEqual(input.map((t) => t.name).sort());
    for (const t of input) {
      const got = back.get(t.name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.values).toEqual(Array.from(t.values));
    }
    // the caller's arrays are not consumed by the in-place encoding
    expect(Array.from(input[1]!.values)).toEqual([1, -2, 65504, 2 ** -24, 0.333251953125]);
  });

  it("rounds values that the dtype cannot hold, ties to even", async () => {
    const dir = await freshDir("rounding");
    await saveCheckpoint(dir, [
      { name: "h", dtype: "F16", shape: [3], values: Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520]) },
      { name: "b", dtype: "BF16", shape: [2], values: Float32Array.from([f32FromBits(0x3f808000), f32FromBits(0x3f818000)]) },
    ]);
    const back = await readBack(dir);
    expect(back.get("h")!.values).toEqual([1, 1 + 2 ** -9, Infinity]);
    expect(back.get("b")!.values).toEqual([1, f32FromBits(0x3f820000)]);
  });

  it("writes {format: pt} metadata, an 8-byte-aligned header and contiguous offsets in order", async () => {
    const dir = await freshDir("layout");
    const input = tensors();
    await saveCheckpoint(dir, input);
    const file = join(dir, "model.safetensors");
    const { headerLength, header, dataStart, size } = await parseByHand(file);
    expect(header.__metadata__).toEqual({ format: "pt" });
    expect(headerLength % 8).toBe(0);
    const bytesOf = { F32: 4, F16: 2, BF16: 2 } as const;
    let offset = 0;
    for (const t of input) {
      const entry = header[t.name];
      expect(entry, t.name).toBeDefined();
      expect(entry.dtype).toBe(t.dtype);
      expect(entry.shape).toEqual(t.shape);
      const bytes = t.values.length * bytesOf[t.dtype];
      expect(entry.data_offsets).toEqual([offset, offset + bytes]);
      offset += bytes;
    }
    expect(Object.keys(header)).toHaveLength(input.length + 1);
    expect(size - dataStart).toBe(offset);
    // the bytes at those offsets are the tensors' little-endian encodings
    const raw = await readFile(file);
    const [start] = header["a.f32"].data_offsets as [number, number];
    expect(raw.readFloatLE(dataStart + start + 4)).toBe(-2.5);
    const [bStart] = header["b.f16"].data_offsets as [number, number];
    expect(raw.readUInt16LE(dataStart + bStart + 4)).toBe(0x7bff);

    const parsed = await readSafetensorsHeader(file);
    expect(parsed.metadata).toEqual({ format: "pt" });
    expect(parsed.tensors.map((t) => t.name)).toEqual(input.map((t) => t.name));
  });
});

describe("sharding", () => {
  const f32 = (name: string, numel: number): PlannedTensor => ({ name, dtype: "F32", shape: [numel] });

  it("planShards: a tensor opens a new shard when the current one is non-empty and would exceed the max", () => {
    // 16, 16, 16, 40 bytes with a 32-byte max: [16 + 16 = 32 fits exactly] [16] [40 alone, over the max]
    const shards = planShards([f32("a", 4), f32("b", 4), f32("c", 4), f32("d", 10)], 32);
    expect(shards.map((s) => s.tensors.map((t) => t.name))).toEqual([["a", "b"], ["c"], ["d"]]);
    expect(shards.map((s) => s.bytes)).toEqual([32, 16, 40]);
    expect(shards.map((s) => s.file)).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
    ]);
    const one = planShards([f32("a", 4), f32("b", 4)], 1e9);
    expect(one.map((s) => s.file)).toEqual(["model.safetensors"]);
    // a first tensor bigger than the max still goes into the first shard
    expect(planShards([f32("big", 100), f32("small", 1)], 8).map((s) => s.tensors.map((t) => t.name))).toEqual([["big"], ["small"]]);
    expect(planShards([f32("a", 2), { name: "h", dtype: "F16", shape: [4] }], 16).map((s) => s.bytes)).toEqual([16]);
  });

  const four = (): TensorToSave[] => [
    { name: "t0", dtype: "F32", shape: [3], values: Float32Array.from([1, 2, 3]) },
    { name: "t1", dtype: "F16", shape: [2, 2], values: Float32Array.from([0.5, -0.5, 2, 4]) },
    { name: "t2", dtype: "BF16", shape: [1], values: Float32Array.from([-3]) },
    { name: "t3", dtype: "F32", shape: [2, 1], values: Float32Array.from([7, 8]) },
  ];

  it("max 1 byte: one shard per tensor, with an index of total_size and weight_map", async () => {
    const dir = await freshDir("sharded");
    const input = four();
    await saveCheckpoint(dir, input, 1);
    const shardNames = [1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`);
    expect((await readdir(dir)).sort()).toEqual([...shardNames, "model.safetensors.index.json"].sort());
    const index = JSON.parse(await readFile(join(dir, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(12 + 8 + 2 + 8);
    expect(index.weight_map).toEqual({ t0: shardNames[0], t1: shardNames[1], t2: shardNames[2], t3: shardNames[3] });
    for (const [i, t] of input.entries()) {
      const { header, headerLength, dataStart, size } = await parseByHand(join(dir, shardNames[i]!));
      expect(Object.keys(header).sort()).toEqual(["__metadata__", t.name]);
      expect(header.__metadata__).toEqual({ format: "pt" });
      expect(headerLength % 8).toBe(0);
      expect(header[t.name].data_offsets).toEqual([0, size - dataStart]);
    }
  });

  it("a sharded folder reads back identically to a single file", async () => {
    const single = await freshDir("single");
    const sharded = await freshDir("sharded2");
    await saveCheckpoint(single, four());
    await saveCheckpoint(sharded, four(), 10); // 12 | 8 + 2 | 8
    const index = JSON.parse(await readFile(join(sharded, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(30);
    expect(index.weight_map).toEqual({
      t0: "model-00001-of-00003.safetensors",
      t1: "model-00002-of-00003.safetensors",
      t2: "model-00002-of-00003.safetensors",
      t3: "model-00003-of-00003.safetensors",
    });
    expect(await readBack(sharded)).toEqual(await readBack(single));
    const back = await readBack(sharded);
    expect(back.get("t1")).toEqual({ dtype: "F16", shape: [2, 2], values: [0.5, -0.5, 2, 4] });
  });

  it("everything in one shard is model.safetensors with no index", async () => {
    const dir = await freshDir("oneshard");
    await saveCheckpoint(dir, four(), 30); // exactly the total: fits
    expect(await readdir(dir)).toEqual(["model.safetensors"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("header validation", () => {
  /** Writes `bytes` as dir/model.safetensors and returns [dir, file]. */
  async function modelWith(label: string, bytes: Buffer): Promise<[string, string]> {
    const dir = await freshDir(label);
    const file = join(dir, "model.safetensors");
    await writeFile(file, bytes);
    return [dir, file];
  }

  const f32Entry = (start: number, numel: number, shape: number[] = [numel]) => ({ dtype: "F32", shape, data_offsets: [start, start + numel * 4] });

  it("accepts a hand-written valid file (the control case)", async () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const [dir] = await modelWith("valid", rawSafetensors({ __metadata__: { format: "pt" }, w: f32Entry(0, 3) }, data));
    expect((await readBack(dir)).get("w")).toEqual({ dtype: "F32", shape: [3], values: [1, 2, 3] });
  });

  it("rejects a file shorter than 8 bytes", async () => {
    const [dir, file] = await modelWith("short", Buffer.from([1, 2, 3]));
    await expectInputError(Checkpoint.open(dir), file);
    await expectInputError(readSafetensorsHeader(file), file);
    const [dir0, file0] = await modelWith("empty", Buffer.alloc(0));
    await expectInputError(Checkpoint.open(dir0), file0);
  });

  it("rejects a header length that runs past the end of the file", async () => {
    const [dir, file] = await modelWith("pastend", rawSafetensors({ w: f32Entry(0, 1) }, 4, 1000n));
    await expectInputError(Checkpoint.open(dir), file);
  });

  it("rejects a header length over MAX_HEADER_BYTES without allocating it", async () => {
    expect(MAX_HEADER_BYTES).toBe(100 * 1024 * 1024);
    const [dir, file] = await modelWith("huge", rawSafetensors({ w: f32Entry(0, 1) }, 4, BigInt(MAX_HEADER_BYTES) + 1n));
    await expectInputError(Checkpoint.open(dir), file);
    const [dir2, file2] = await modelWith("huge64", rawSafetensors({ w: f32Entry(0, 1) }, 4, 2n ** 64n - 1n));
    await expectInputError(Checkpoint.open(dir2), file2);
  });

  it("rejects a header that is not valid JSON, or not an object", async () => {
    const [dir, file] = await modelWith("badjson", rawSafetensors('{"w": {"dtype": "F32", ', 16));
    await expectInputError(Checkpoint.open(dir), file);
    const [dir2, file2] = await modelWith("array", rawSafetensors("[1, 2]", 0));
    await expectInputError(Checkpoint.open(dir2), file2);
  });

  it("rejects data_offsets past the data section (truncated file)", async () => {
    // two tensors of 16 bytes each, but only 24 data bytes
    const [dir, file] = await modelWith("truncated", rawSafetensors({ a: f32Entry(0, 4), b: f32Entry(16, 4) }, 24));
    await expectInputError(Checkpoint.open(dir), file, '"b"');
  });

  it("rejects malformed data_offsets and shapes", async () => {
    const cases: [string, object][] = [
      ["reversed", { w: { dtype: "F32", shape: [0], data_offsets: [8, 4] } }],
      ["notpair", { w: { dtype: "F32", shape: [1], data_offsets: [0] } }],
      ["negoffset", { w: { dtype: "F32", shape: [1], data_offsets: [-4, 0] } }],
      ["negshape", { w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }],
      ["fracshape", { w: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }],
      ["notobject", { w: 5 }],
    ];
    for (const [label, header] of cases) {
      const [dir, file] = await modelWith(label, rawSafetensors(header, 16));
      await expectInputError(Checkpoint.open(dir), file, '"w"');
    }
  });

  it("rejects overlapping tensors, naming both", async () => {
    const [dir, file] = await modelWith("overlap", rawSafetensors({ a: f32Entry(0, 4), b: f32Entry(8, 4) }, 24));
    await expectInputError(Checkpoint.open(dir), file, '"a"', '"b"');
    // one span inside another, listed in reverse order
    const [dir2, file2] = await modelWith(
      "overlap2",
      rawSafetensors({ inner: f32Entry(8, 1), outer: f32Entry(0, 6), after: f32Entry(24, 2) }, 32),
    );
    await expectInputError(Checkpoint.open(dir2), file2, '"inner"', '"outer"');
    // a short span inside a long one, then a clean one
    const [dir3, file3] = await modelWith(
      "overlap3",
      rawSafetensors({ long: f32Entry(0, 8), short: f32Entry(4, 1), late: f32Entry(16, 4) }, 32),
    );
    await expectInputError(Checkpoint.open(dir3), file3, '"long"');
  });

  it("accepts empty tensors anywhere (they occupy no bytes)", async () => {
    const header = { a: f32Entry(0, 2), e: { dtype: "F32", shape: [0, 3], data_offsets: [4, 4] }, b: f32Entry(8, 1) };
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const [dir] = await modelWith("empty-tensor", rawSafetensors(header, data));
    const back = await readBack(dir);
    expect(back.get("e")).toEqual({ dtype: "F32", shape: [0, 3], values: [] });
    expect(back.get("b")!.values).toEqual([3]);
  });

  it("rejects a byte count that does not match shape × dtype", async () => {
    const [dir, file] = await modelWith("bytecount", rawSafetensors({ w: { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }, 24));
    await expectInputError(Checkpoint.open(dir), file, '"w"');
    const [dir2, file2] = await modelWith("bytecount16", rawSafetensors({ h: { dtype: "BF16", shape: [4], data_offsets: [0, 16] } }, 16));
    await expectInputError(Checkpoint.open(dir2), file2, '"h"');
  });

  it("rejects an unknown dtype string", async () => {
    const [dir, file] = await modelWith("dtype", rawSafetensors({ w: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16));
    await expectInputError(Checkpoint.open(dir), file, '"w"', "F128");
    const [dir2, file2] = await modelWith("dtype-lower", rawSafetensors({ w: { dtype: "f32", shape: [1], data_offsets: [0, 4] } }, 4));
    await expectInputError(Checkpoint.open(dir2), file2, '"w"');
  });

  it("parses a known but unmergeable dtype (I64) at header level", async () => {
    const data = new Uint8Array(new BigInt64Array([1n, -2n, 3n]).buffer);
    const [dir] = await modelWith("i64", rawSafetensors({ ids: { dtype: "I64", shape: [3], data_offsets: [0, 24] }, w: f32Entry(24, 1) }, Buffer.concat([data, Buffer.alloc(4)])));
    const checkpoint = await Checkpoint.open(dir);
    try {
      const entry = checkpoint.get("ids")!;
      expect(entry).toMatchObject({ dtype: "I64", shape: [3], byteLength: 24 });
      const bytes = new Uint8Array(24);
      await checkpoint.readInto(entry, bytes);
      expect(Array.from(new BigInt64Array(bytes.buffer))).toEqual([1n, -2n, 3n]);
    } finally {
      await checkpoint.close();
    }
  });

  it("rejects a sharded index whose weight_map names a tensor missing from its shard", async () => {
    const dir = await freshDir("badindex");
    await saveCheckpoint(
      dir,
      [
        { name: "x", dtype: "F32", shape: [2], values: Float32Array.from([1, 2]) },
        { name: "y", dtype: "F32", shape: [2], values: Float32Array.from([3, 4]) },
      ],
      1,
    );
    const indexPath = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(await readFile(indexPath, "utf8"));
    expect(Object.keys(index.weight_map)).toEqual(["x", "y"]); // control: the index is what we expect
    await expect(Checkpoint.open(dir)).resolves.toBeInstanceOf(Checkpoint);
    index.weight_map.y = "model-00001-of-00002.safetensors"; // y lives in shard 2
    await writeFile(indexPath, JSON.stringify(index));
    await expectInputError(Checkpoint.open(dir), indexPath, '"y"');
    index.weight_map.ghost = "model-00002-of-00002.safetensors";
    delete index.weight_map.y;
    await writeFile(indexPath, JSON.stringify(index));
    await expectInputError(Checkpoint.open(dir), indexPath, '"ghost"');
  });

  it("rejects an index naming a missing shard, or a path outside the folder", async () => {
    const dir = await freshDir("missingshard");
    const indexPath = join(dir, "model.safetensors.index.json");
    await writeFile(indexPath, JSON.stringify({ metadata: {}, weight_map: { x: "model-00001-of-00002.safetensors" } }));
    await expectInputError(Checkpoint.open(dir), join(dir, "model-00001-of-00002.safetensors"));
    await writeFile(indexPath, JSON.stringify({ metadata: {}, weight_map: { x: "../model.safetensors" } }));
    await expectInputError(Checkpoint.open(dir), indexPath, '"x"');
    await writeFile(indexPath, "{not json");
    await expectInputError(Checkpoint.open(dir), indexPath);
  });

  it("rejects a folder without safetensors, naming it", async () => {
    const dir = await freshDir("nothing");
    await writeFile(join(dir, "pytorch_model.bin"), "x");
    await expectInputError(Checkpoint.open(dir), dir, "pytorch_model.bin");
    await expectInputError(Checkpoint.open(join(dir, "absent")), join(dir, "absent"));
  });
});
