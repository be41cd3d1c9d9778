import { open } from "node:fs/promises";
import { InputError } from "../../errors.ts";
import { DTYPE_BYTES } from "./dtype.ts";

/** Largest header we accept: real ones are kilobytes; a bigger length means a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  file: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the tensor's data in `file`. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  metadata: Record<string, string>;
  /** In the order of their data in the file. */
  tensors: TensorEntry[];
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reads and validates the header of one safetensors file without touching the tensor data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await open(file, "r").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: cannot open (${err.code ?? err.message})`);
  });
  try {
    const { size } = await handle.stat();
    if (size < 8) throw new InputError(`${file}: not a safetensors file (${size} bytes, shorter than the 8-byte header length)`);
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, 8, 0);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw new InputError(`${file}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
    }
    const length = Number(headerLength);
    if (8 + length > size) {
      throw new InputError(`${file}: header length ${length} runs past the end of the file (${size} bytes; truncated?)`);
    }
    const json = Buffer.alloc(length);
    await handle.read(json, 0, length, 8);
    return parseHeaderJson(file, json.toString("utf8"), 8 + length, size);
  } finally {
    await handle.close();
  }
}

export function parseHeaderJson(file: string, text: string, dataStart: number, fileSize: number): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: header is not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(raw)) throw new InputError(`${file}: header is not a JSON object`);
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  const spans: { name: string; start: number; end: number }[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === "__metadata__") {
      if (isRecord(value)) for (const [k, v] of Object.entries(value)) metadata[k] = String(v);
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (!isRecord(value)) throw new InputError(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      throw new InputError(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new InputError(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw new InputError(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [start, end] = offsets as [number, number];
    if (start > end || end > dataSize) {
      throw new InputError(`${where}: data_offsets [${start}, ${end}] are outside the ${dataSize}-byte data section (truncated file?)`);
    }
    const dims = shape as number[];
    const expected = numelOf(dims) * DTYPE_BYTES[dtype]!;
    if (end - start !== expected) {
      throw new InputError(`${where}: holds ${end - start} bytes but shape [${dims.join(", ")}] × ${dtype} needs ${expected}`);
    }
    spans.push({ name, start, end });
    tensors.push({ name, file, dtype, shape: dims, offset: dataStart + start, byteLength: end - start });
  }
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  let reach: (typeof spans)[number] | undefined; // the span ending furthest so far
  for (const cur of spans) {
    if (cur.end === cur.start) continue; // empty tensors occupy no bytes
    if (reach && cur.start < reach.end) {
      throw new InputError(`${file}: tensors "${reach.name}" [${reach.start}, ${reach.end}) and "${cur.name}" [${cur.start}, ${cur.end}) overlap`);
    }
    if (!reach || cur.end > reach.end) reach = cur;
  }
  tensors.sort((a, b) => a.offset - b.offset);
  return { file, metadata, tensors };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
