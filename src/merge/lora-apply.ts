import { DTYPE_BYTES, encodeInPlace, widenInPlace, type FloatDtype } from "./safetensors/dtype.ts";
import type { TensorEntry } from "./safetensors/header.ts";

/**
 * The read-time half of LoRA: a tensor entry carrying a `lora` patch is read as W + scale·B·A. The patch is
 * plain data (entries and numbers), so it travels with the entry to worker threads. The delta is added one row
 * of W at a time, in float32 as PEFT's merge does on CPU (`base_layer.weight.data += delta`), and the row is
 * rounded back to W's stored dtype: the bytes read are those of the adapter-merged checkpoint mergekit would
 * have written to its --lora-merge-cache, and nothing bigger than one row is ever allocated beside A and B.
 */

export interface LoraPatch {
  /** lora_A (linear: [r, in]; embedding: lora_embedding_A, [r, num_embeddings]). */
  a: TensorEntry;
  /** lora_B (linear: [out, r]; embedding: lora_embedding_B, [dim, r]). */
  b: TensorEntry;
  rank: number;
  /** lora_alpha / r, or lora_alpha / √r with use_rslora. */
  scale: number;
  /**
   * false: W is [out, in] and W += scale·B·A. true: W holds (B·A)ᵀ, as for embeddings (PEFT's Embedding merge)
   * and fan_in_fan_out layers (GPT-2's Conv1D).
   */
  transposed: boolean;
  /** The adapter reference, for messages. */
  adapter: string;
}

export type LoraPatchedEntry = TensorEntry & { lora: LoraPatch };

export function loraPatchOf(entry: TensorEntry): LoraPatch | undefined {
  return (entry as Partial<LoraPatchedEntry>).lora;
}

interface RawReader {
  readInto(entry: TensorEntry, target: Uint8Array): Promise<void>;
}

/** Adds the patch's delta to `target`, which holds W's raw bytes as stored (entry.dtype). */
export async function applyLoraPatch(entry: TensorEntry, patch: LoraPatch, target: Uint8Array, reader: RawReader): Promise<void> {
  const [a, b] = await Promise.all([readFloat32(patch.a, reader), readFloat32(patch.b, reader)]);
  const dtype = entry.dtype as FloatDtype;
  const [rows, cols] = entry.shape as [number, number];
  const r = patch.rank;
  const scale = Math.fround(patch.scale);
  const size = DTYPE_BYTES[dtype]!;
  const rowBytes = cols * size;
  const row = new Float32Array(cols);
  const delta = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const bytes = target.subarray(i * rowBytes, (i + 1) * rowBytes);
    if (dtype === "F32") new Uint8Array(row.buffer).set(bytes);
    else {
      new Uint8Array(row.buffer, cols * 2, cols * 2).set(bytes);
      widenInPlace(row, cols * 2, cols, dtype);
    }
    delta.fill(0);
    if (!patch.transposed) {
      // Row i of B·A: Σ_k B[i,k]·A[k,:] (A is [r, cols], B is [rows, r]).
      for (let k = 0; k < r; k++) {
        const bik = b[i * r + k]!;
        if (bik === 0) continue;
        const offset = k * cols;
        for (let j = 0; j < cols; j++) delta[j]! += bik * a[offset + j]!;
      }
    } else {
      // Row i of (B·A)ᵀ: Σ_k A[k,i]·B[:,k] (A is [r, rows], B is [cols, r]).
      for (let k = 0; k < r; k++) {
        const aki = a[k * rows + i]!;
        if (aki === 0) continue;
        for (let j = 0; j < cols; j++) delta[j]! += aki * b[j * r + k]!;
      }
    }
    for (let j = 0; j < cols; j++) row[j] = row[j]! + Math.fround(Math.fround(delta[j]!) * scale);
    bytes.set(encodeInPlace(row, dtype));
  }
}

async function readFloat32(entry: TensorEntry, reader: RawReader): Promise<Float32Array> {
  const dtype = entry.dtype as FloatDtype;
  const numel = entry.byteLength / DTYPE_BYTES[dtype]!;
  const values = new Float32Array(numel);
  if (dtype === "F32") await reader.readInto(entry, new Uint8Array(values.buffer));
  else {
    await reader.readInto(entry, new Uint8Array(values.buffer, numel * 2, numel * 2));
    widenInPlace(values, numel * 2, numel, dtype);
  }
  return values;
}
