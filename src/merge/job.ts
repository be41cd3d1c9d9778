import { InputError } from "../errors.ts";
import { getMethod } from "./methods/registry.ts";
import type { ParamValue } from "./methods/types.ts";
import type { MergePlan, PlannedInput, TensorTask } from "./plan.ts";
import { seededRng } from "./rng.ts";
import { DTYPE_BYTES, encodeInPlace, hasNonFinite, roundThrough, widenInPlace, type FloatDtype } from "./safetensors/dtype.ts";
import { numelOf, type TensorEntry } from "./safetensors/header.ts";
import { isPlainEntry, type TensorReader } from "./safetensors/tensor-reader.ts";
import { alignUp } from "./kernels/arena.ts";

/**
 * One output tensor's work as plain data, so it can run in this thread or be posted to a worker:
 * read the inputs, merge in float32, cast once to the output dtype.
 */
export interface MergeJob {
  index: number;
  name: string;
  shape: number[];
  dtype: FloatDtype;
  method: string;
  base: JobInput | undefined;
  models: JobInput[];
  global: Record<string, ParamValue>;
  seed: number;
  loadDtype: FloatDtype | undefined;
  allowNonfinite: boolean;
}

export interface JobInput {
  ref: string;
  entry: TensorEntry;
  crop?: number[];
  perModel: Record<string, ParamValue>;
}

/**
 * Methods whose every output entry depends only on the inputs' entries at the same position, with parameters
 * fixed per tensor: merging a chunk of each input gives that chunk of the result, byte for byte. Their tensors
 * are streamed in chunks (read, merged and written a few MB at a time) instead of whole.
 * (A method could declare this itself, e.g. `elementwise: true` in defineMethod: proposed, see the README.)
 */
export const ELEMENTWISE_METHODS: ReadonlySet<string> = new Set(["linear", "task_arithmetic", "passthrough", "nearswap", "ram"]);

export function toJob(plan: MergePlan, task: TensorTask, index: number, seed: number, allowNonfinite: boolean): MergeJob {
  const input = ({ model, entry, crop, perModel }: PlannedInput): JobInput => ({ ref: model.ref, entry, crop, perModel });
  return {
    index,
    name: task.name,
    shape: task.shape,
    dtype: task.dtype,
    method: plan.method.name,
    base: task.base && input(task.base),
    models: task.models.map(input),
    global: task.global,
    seed,
    loadDtype: plan.loadDtype,
    allowNonfinite,
  };
}

const jobInputs = (job: MergeJob): JobInput[] => (job.base ? [job.base, ...job.models] : job.models);

/** Float32 bytes the job holds at its peak when merged whole: one float32 copy of every input. */
export function jobBytes(job: MergeJob): number {
  return jobInputs(job).reduce((sum, i) => sum + (i.entry.byteLength / DTYPE_BYTES[i.entry.dtype]!) * 4, 0);
}

/**
 * A piece of a job's work: output entries [start, start + count) of one tensor, or the whole tensor. Each
 * input's float32 values for the piece live at `slots[i]` (bytes, base first) of the shared working memory.
 */
export interface Piece {
  job: MergeJob;
  whole: boolean;
  start: number;
  count: number;
  /** Byte offset of the piece's first slot in the working memory, and the slots' offsets (inputs in job order). */
  offset: number;
  slots: number[];
}

/** Input i's range of elements (in its own, uncropped layout) that a piece of the output needs. */
function inputRange(input: JobInput, whole: boolean, start: number, count: number): [number, number] {
  if (whole) return [0, numelOf(input.entry.shape)];
  if (!input.crop) return [start, count];
  const outCols = input.crop[1]!;
  const inCols = input.entry.shape[1]!;
  return [(start / outCols) * inCols, (count / outCols) * inCols];
}

/** Bytes of working memory each input of the piece takes, aligned; their sum is the piece's size. */
export function pieceSlotBytes(job: MergeJob, whole: boolean, start: number, count: number): number[] {
  return jobInputs(job).map((input) => alignUp(inputRange(input, whole, start, count)[1] * 4));
}

/**
 * How the job is cut: element ranges of at most about `chunkElements` output entries (whole rows when an input
 * is cropped), or one whole piece when the method needs whole tensors or an input is read whole (LoRA patches
 * and other read-time rewrites apply to a whole tensor).
 */
export function pieceRanges(job: MergeJob, chunkElements: number): { whole: boolean; start: number; count: number }[] {
  const numel = numelOf(job.shape);
  const inputs = jobInputs(job);
  const chunked = ELEMENTWISE_METHODS.has(job.method) && inputs.every((i) => isPlainEntry(i.entry)) && numel > chunkElements;
  if (!chunked) return [{ whole: true, start: 0, count: numel }];
  const cropped = inputs.some((i) => i.crop);
  const unit = cropped ? job.shape[1]! : 1;
  const step = Math.max(unit, Math.floor(chunkElements / unit) * unit);
  const ranges: { whole: boolean; start: number; count: number }[] = [];
  for (let start = 0; start < numel; start += step) ranges.push({ whole: false, start, count: Math.min(step, numel - start) });
  return ranges;
}

/**
 * Runs one piece in `memory`: reads each input's range into its slot as float32, merges, and encodes the result
 * in place. Returns the encoded bytes (a view of `memory`, or of the method's own array if it made one).
 */
export async function runPiece(piece: Piece, memory: ArrayBuffer | SharedArrayBuffer, reader: TensorReader): Promise<Uint8Array> {
  const { job } = piece;
  const inputs = jobInputs(job);
  const loaded = await Promise.all(inputs.map((input, i) => loadInput(job, input, piece, memory, piece.slots[i]!, reader)));
  const base = job.base ? loaded[0] : undefined;
  const models = job.base ? loaded.slice(1) : loaded;
  const method = getMethod(job.method, "job");
  let result: Float32Array;
  try {
    result = method.merge({
      tensor: job.name,
      shape: job.shape,
      base,
      models,
      global: job.global,
      perModel: job.models.map((m) => m.perModel),
      rng: (modelIndex) => seededRng(job.seed, job.name, modelIndex),
    });
  } catch (err) {
    throw new InputError(`${method.name} failed on tensor ${job.name}: ${(err as Error).message}`);
  }
  if (result.length !== piece.count) throw new Error(`${method.name} returned ${result.length} values for ${piece.count} on tensor ${job.name}`);
  return encodeInPlace(result, job.dtype);
}

/**
 * Reads one input's range for a piece as float32 into its slot. A 16-bit tensor is read into the upper half of
 * the slot and widened in place.
 */
async function loadInput(job: MergeJob, input: JobInput, piece: Piece, memory: ArrayBuffer | SharedArrayBuffer, slot: number, reader: TensorReader): Promise<Float32Array> {
  const { entry } = input;
  const dtype = entry.dtype as FloatDtype;
  const [from, count] = inputRange(input, piece.whole, piece.start, piece.count);
  let values = new Float32Array(memory, slot, count);
  const size = DTYPE_BYTES[dtype]!;
  const raw = dtype === "F32" ? new Uint8Array(memory, slot, count * 4) : new Uint8Array(memory, slot + count * 2, count * 2);
  if (piece.whole) await reader.readInto(entry, raw);
  else await reader.readRange(entry, from * size, raw);
  const nonFinite = dtype === "F32" ? !job.allowNonfinite && hasNonFinite(values) : widenInPlace(values, count * 2, count, dtype);
  if (nonFinite && !job.allowNonfinite) {
    const index = values.findIndex((v) => !Number.isFinite(v));
    throw new InputError(
      `${entry.file}: tensor "${entry.name}" of model "${input.ref}" holds ${values[index]} at index ${from + index} (pass --allow-nonfinite to merge anyway)`,
    );
  }
  // Casting to the config dtype is the identity when it is the stored dtype or float32.
  if (job.loadDtype && job.loadDtype !== dtype && job.loadDtype !== "F32") roundThrough(values, job.loadDtype);
  if (input.crop) values = cropTopLeft(values, piece.whole ? entry.shape : [count / entry.shape[1]!, entry.shape[1]!], input.crop, piece.whole ? undefined : piece.count);
  return values;
}

/**
 * The top-left [rows, cols] sub-matrix of a row-major matrix, compacted in place; `count`, for a chunk of rows,
 * is the number of output entries it holds (its rows times the cropped width).
 */
export function cropTopLeft(values: Float32Array, shape: readonly number[], crop: readonly number[], count?: number): Float32Array {
  const cols = shape[1]!;
  const cols2 = crop[1]!;
  const rows2 = count === undefined ? crop[0]! : count / cols2;
  if (cols2 !== cols) for (let r = 1; r < rows2; r++) values.copyWithin(r * cols2, r * cols, r * cols + cols2);
  return values.subarray(0, rows2 * cols2);
}
