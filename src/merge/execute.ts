import { InputError } from "../errors.ts";
import type { MergePlan, PlannedInput, TensorTask } from "./plan.ts";
import { seededRng } from "./rng.ts";
import { DTYPE_BYTES, encodeInPlace, hasNonFinite, roundThrough, widenInPlace, type FloatDtype } from "./safetensors/dtype.ts";
import type { ShardWriter } from "./safetensors/writer.ts";

export interface ExecuteOptions {
  seed: number;
  allowNonfinite: boolean;
  /**
   * Overlap I/O with math: the next task's inputs are read, and the previous output written, while a tensor
   * is merged, but only for tensors up to this size (float32 bytes), so big tensors stay one at a time.
   */
  overlapBytes: number;
  onTensor?: (task: TensorTask, index: number) => void;
}

/** Streams the plan: for each tensor, read its inputs, merge in float32, cast once, write. */
export async function executePlan(plan: MergePlan, writer: ShardWriter, options: ExecuteOptions): Promise<void> {
  const { tasks } = plan;
  const load = (task: TensorTask) => loadTask(task, plan.loadDtype, options.allowNonfinite);
  let next: Promise<LoadedTask> | undefined;
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      const loaded = await (next ?? load(task));
      next = undefined;
      const following = tasks[i + 1];
      if (following && taskBytes(following) <= options.overlapBytes) next = load(following);
      next?.catch(() => undefined); // surfaced when awaited
      const bytes = mergeTask(plan, task, loaded, options.seed);
      await writing;
      writing = writer.write(task.name, bytes);
      if (bytes.byteLength > options.overlapBytes) await writing;
      options.onTensor?.(task, i);
    }
  } catch (err) {
    await Promise.allSettled([writing, next]);
    throw err;
  }
  await writing;
}

interface LoadedTask {
  base: Float32Array | undefined;
  models: Float32Array[];
}

function taskBytes(task: TensorTask): number {
  const inputs = task.base ? [task.base, ...task.models] : task.models;
  return inputs.reduce((sum, i) => sum + (i.entry.byteLength / bytesPerElement(i.entry.dtype)) * 4, 0);
}

function bytesPerElement(dtype: string): number {
  return DTYPE_BYTES[dtype]!;
}

async function loadTask(task: TensorTask, loadDtype: FloatDtype | undefined, allowNonfinite: boolean): Promise<LoadedTask> {
  const load = (input: PlannedInput) => loadInput(input, loadDtype, allowNonfinite);
  const [base, ...models] = await Promise.all([task.base ? load(task.base) : undefined, ...task.models.map(load)]);
  return { base, models: models as Float32Array[] };
}

/** Reads one input tensor as float32. A 16-bit tensor is read into the upper half of its float32 buffer and widened in place. */
export async function loadInput(input: PlannedInput, loadDtype: FloatDtype | undefined, allowNonfinite: boolean): Promise<Float32Array> {
  const { entry, model } = input;
  const dtype = entry.dtype as FloatDtype;
  const numel = entry.byteLength / bytesPerElement(dtype);
  let values: Float32Array = new Float32Array(numel);
  let nonFinite: boolean;
  if (dtype === "F32") {
    await model.checkpoint.readInto(entry, new Uint8Array(values.buffer));
    nonFinite = !allowNonfinite && hasNonFinite(values);
  } else {
    await model.checkpoint.readInto(entry, new Uint8Array(values.buffer, numel * 2, numel * 2));
    nonFinite = widenInPlace(values, numel * 2, numel, dtype);
  }
  if (nonFinite && !allowNonfinite) {
    const index = values.findIndex((v) => !Number.isFinite(v));
    throw new InputError(
      `${entry.file}: tensor "${entry.name}" of model "${model.ref}" holds ${values[index]} at index ${index} (pass --allow-nonfinite to merge anyway)`,
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

function mergeTask(plan: MergePlan, task: TensorTask, loaded: LoadedTask, seed: number): Uint8Array {
  let result: Float32Array;
  try {
      result = plan.method.merge({
        tensor: task.name,
        shape: task.shape,
        base: loaded.base,
        models: loaded.models,
        global: task.global,
        perModel: task.models.map((m) => m.perModel),
        rng: (modelIndex) => seededRng(seed, task.name, modelIndex),
      });
    } catch (err) {
      throw new InputError(`${plan.method.name} failed on tensor ${task.name}: ${(err as Error).message}`);
    }
    return encodeInPlace(result, task.dtype);
  }
