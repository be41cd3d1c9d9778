import { DTYPE_BYTES, encodeInPlace, roundThrough, widenInPlace, type FloatDtype } from "../safetensors/dtype.ts";
import type { TensorEntry } from "../safetensors/header.ts";

/**
 * The read-time half of a tokenizer merge: an embedding entry carrying a `vocabRemap` is read as the model's
 * matrix re-mapped to the output vocabulary (mergekit's PermutedEmbeddings, mergekit/tokenizer/embed.py). The
 * remap is plain data (entries, numbers, an Int32Array), so it travels with the entry to worker threads. Each
 * output row is one of:
 *   - the model's own row for the token;
 *   - a fill: zeros, another row (of this or another model's tensor), or the mean of several models' rows;
 *   - past the vocabulary (pad_to_multiple_of), the mean of the rows above it.
 * As in mergekit, every input row is first cast to the load dtype and a mean is summed one model at a time,
 * rounding each sum to that dtype; the padding mean is rounded once. The output is written in `work`, the
 * dtype of the entry: nothing bigger than the model's own tensor (as stored) and the rows borrowed from others
 * is held beside the output.
 */

export interface RowFill {
  /** Output row. */
  row: number;
  /** Rows to take: [tensor index in `tensors`, row] pairs, flattened; empty for a zero row. */
  terms: number[];
}

export interface VocabRemap {
  /** The model's own embedding (or tied head) as planned, LoRA patch included. */
  source: TensorEntry;
  /** Per output row below the vocabulary size: the source row, or -1 for a row in `fills`. */
  rows: Int32Array;
  /** Rows from elsewhere, in row order. */
  fills: RowFill[];
  /** The tensors fills read from (this tensor in every model of the merge). */
  tensors: TensorEntry[];
  /** Load dtype: inputs are cast to it, means are rounded to it, and the entry is written in it. */
  work: FloatDtype;
}

export type VocabRemappedEntry = TensorEntry & { vocabRemap: VocabRemap };

export function vocabRemapOf(entry: TensorEntry): VocabRemap | undefined {
  return (entry as Partial<VocabRemappedEntry>).vocabRemap;
}

interface RawReader {
  readInto(entry: TensorEntry, target: Uint8Array): Promise<void>;
}

/** Writes the re-mapped matrix of `entry` ([rows, cols] in remap.work) into `target`. */
export async function readRemapped(entry: TensorEntry, remap: VocabRemap, target: Uint8Array, reader: RawReader): Promise<void> {
  const { source, rows, fills, work } = remap;
  const [padded, cols] = entry.shape as [number, number];
  const vocab = rows.length;
  const own = await readAll(source, reader);
  const borrowed = await readBorrowedRows(remap, own, reader);

  const value = new Float32Array(cols);
  const term = new Float32Array(cols);
  const scratch = new Float32Array(cols);
  const sums = new Float64Array(cols);
  const outBytes = cols * DTYPE_BYTES[work]!;
  const put = (row: number) => {
    scratch.set(value);
    target.set(encodeInPlace(scratch, work), row * outBytes);
  };
  let next = 0;
  for (let r = 0; r < vocab; r++) {
    const ownRow = rows[r]!;
    if (ownRow >= 0) loadRow(own, ownRow, value, work);
    else {
      const fill = fills[next++];
      if (!fill || fill.row !== r) throw new Error(`vocabulary remap of ${entry.name}: no source for row ${r}`);
      value.fill(0);
      const count = fill.terms.length / 2;
      for (let k = 0; k < count; k++) {
        const raw = borrowed.get(key(fill.terms[2 * k]!, fill.terms[2 * k + 1]!))!;
        loadRow(raw, 0, term, work);
        if (count === 1) value.set(term);
        else {
          for (let j = 0; j < cols; j++) value[j] = value[j]! + term[j]!;
          roundThrough(value, work);
        }
      }
      if (count > 1) {
        for (let j = 0; j < cols; j++) value[j] = value[j]! / count;
        roundThrough(value, work);
      }
    }
    for (let j = 0; j < cols; j++) sums[j]! += value[j]!;
    put(r);
  }
  if (padded > vocab) {
    for (let j = 0; j < cols; j++) value[j] = sums[j]! / vocab;
    roundThrough(value, work);
    for (let r = vocab; r < padded; r++) put(r);
  }
}

/** A tensor's bytes as stored, with its dtype and row length. */
interface RawRows {
  bytes: Uint8Array;
  dtype: FloatDtype;
  cols: number;
}

async function readAll(entry: TensorEntry, reader: RawReader): Promise<RawRows> {
  const bytes = new Uint8Array(entry.byteLength);
  await reader.readInto(entry, bytes);
  return { bytes, dtype: entry.dtype as FloatDtype, cols: entry.shape[1]! };
}

const key = (tensor: number, row: number) => `${tensor}:${row}`;

/**
 * The rows fills need, each as its own RawRows. Runs of consecutive rows are read in one call; a tensor with a
 * LoRA patch (its rows depend on the whole adapter product) is read whole, once.
 */
async function readBorrowedRows(remap: VocabRemap, own: RawRows, reader: RawReader): Promise<Map<string, RawRows>> {
  const wanted = new Map<number, Set<number>>();
  for (const fill of remap.fills) {
    for (let k = 0; k < fill.terms.length; k += 2) {
      const set = wanted.get(fill.terms[k]!) ?? new Set<number>();
      set.add(fill.terms[k + 1]!);
      wanted.set(fill.terms[k]!, set);
    }
  }
  const rows = new Map<string, RawRows>();
  for (const [index, set] of wanted) {
    const entry = remap.tensors[index]!;
    const dtype = entry.dtype as FloatDtype;
    const cols = entry.shape[1]!;
    const rowBytes = cols * DTYPE_BYTES[dtype]!;
    const sorted = [...set].sort((a, b) => a - b);
    const isOwn = entry.file === remap.source.file && entry.offset === remap.source.offset && entry.name === remap.source.name;
    if (isOwn || "lora" in entry) {
      const whole = isOwn ? own : await readAll(entry, reader);
      for (const row of sorted) rows.set(key(index, row), { bytes: whole.bytes.subarray(row * rowBytes, (row + 1) * rowBytes), dtype, cols });
      continue;
    }
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j] === sorted[j - 1]! + 1) j++;
      const start = sorted[i]!;
      const count = j - i;
      const run: TensorEntry = { name: entry.name, file: entry.file, dtype, shape: [count, cols], offset: entry.offset + start * rowBytes, byteLength: count * rowBytes };
      const bytes = new Uint8Array(run.byteLength);
      await reader.readInto(run, bytes);
      for (let k = 0; k < count; k++) rows.set(key(index, start + k), { bytes: bytes.subarray(k * rowBytes, (k + 1) * rowBytes), dtype, cols });
      i = j;
    }
  }
  return rows;
}

/** Row `row` of `raw` as float32 in `out`, cast to `work` as mergekit casts inputs at load. */
function loadRow(raw: RawRows, row: number, out: Float32Array, work: FloatDtype): void {
  const { bytes, dtype, cols } = raw;
  if (dtype === "F32") {
    new Uint8Array(out.buffer, out.byteOffset, cols * 4).set(bytes.subarray(row * cols * 4, (row + 1) * cols * 4));
  } else {
    new Uint8Array(out.buffer, out.byteOffset + cols * 2, cols * 2).set(bytes.subarray(row * cols * 2, (row + 1) * cols * 2));
    widenInPlace(out, cols * 2, cols, dtype);
  }
  if (work !== dtype) roundThrough(out, work);
}
