import { InputError } from "../errors.ts";
import { getMethod } from "./methods/registry.ts";
import type { ParamValue } from "./methods/types.ts";
import type { MergePlan, PlannedInput, TensorTask } from "./plan.ts";
import { seededRng } from "./rng.ts";
import { DTYPE_BYTES, encodeInPlace, hasNonFinite, roundThrough, widenInPlace, type FloatDtype } from "./safetensors/dtype.ts";
import type { TensorEntry } from "./safetensors/header.ts";
import type { TensorReader } from "./safetensors/tensor-reader.ts";

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

/** Float32 bytes the job holds at its peak: one float32 copy of every input. */
export function jobBytes(job: MergeJob): number {
  const inputs = job.base ? [job.base, ...job.models] : job.models;
  return inputs.reduce((sum, i) => sum + (i.entry.byteLength / DTYPE_BYTES[i.entry.dtype]!) * 4, 0);
}

export async function runJob(job: MergeJob, reader: TensorReader): Promise<Uint8Array> {
  const load = (input: JobInput) => loadInput(input, reader, job.loadDtype, job.allowNonfinite);
  const [base, ...models] = await Promise.all([job.base ? load(job.base) : undefined, ...job.models.map(load)]);
  const method = getMethod(job.method, "job");
  let result: Float32Array;
  try {
    result = method.merge({
      tensor: job.name,
      shape: job.shape,
      base,
      models: models as Float32Array[],
      global: job.global,
      perModel: job.models.map((m) => m.perModel),
      rng: (modelIndex) => seededRng(job.seed, job.name, modelIndex),
    });
  } catch (err) {
    throw new InputError(`${method.name} failed on tensor ${job.name}: ${(err as Error).message}`);
  }
  return encodeInPlace(result, job.dtype);
}

/** Reads one input tensor as float32. A 16-bit tensor is read into the upper half of its float32 buffer and widened in place. */
async function loadInput(input: JobInput, reader: TensorReader, loadDtype: FloatDtype | undefined, allowNonfinite: boolean): Promise<Float32Array> {
  const { entry } = input;
  const dtype = entry.dtype as FloatDtype;
  const numel = entry.byteLength / DTYPE_BYTES[dtype]!;
  let values: Float32Array = new Float32Array(numel);
  let nonFinite: boolean;
  if (dtype === "F32") {
    await reader.readInto(entry, new Uint8Array(values.buffer));
    nonFinite = !allowNonfinite && hasNonFinite(values);
  } else {
    await reader.readInto(entry, new Uint8Array(values.buffer, numel * 2, numel * 2));
    nonFinite = widenInPlace(values, numel * 2, numel, dtype);
  }
  if (nonFinite && !allowNonfinite) {
    const index = values.findIndex((v) => !Number.isFinite(v));
    throw new InputError(
      `${entry.file}: tensor "${entry.name}" of model "${input.ref}" holds ${values[index]} at index ${index} (pass --allow-nonfinite to merge anyway)`,
    );
  }
  // Casting to the config dtype is the identity when it is the stored dtype or float32.
  if (loadDtype && loadDtype !== dtype && loadDtype !== "F32") roundThrough(values, loadDtype);
  if (input.crop) values = cropTopLeft(values, entry.shape, input.crop);
  return values;
}

/** The top-left [rows, cols] sub-matrix of a row-major matrix, compacted in place. */
export function cropTopLeft(values: Float32Array, shape: readonly number[], crop: readonly number[]): Float32Array {
  const cols = shape[1]!;
  const [rows2, cols2] = crop as [number, number];
  if (cols2 !== cols) for (let r = 1; r < rows2; r++) values.copyWithin(r * cols2, r * cols, r * cols + cols2);
  return values.subarray(0, rows2 * cols2);
}
