import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { seededRng } from "../merge/rng.ts";
import { Checkpoint } from "../merge/safetensors/checkpoint.ts";
import { decodeToFloat32, isFloatDtype } from "../merge/safetensors/dtype.ts";
import { saveCheckpoint } from "../merge/safetensors/save.ts";
import { parseLlamaConfig } from "../models/llama-config.ts";
import { checkShape, configJson, shapeFromConfig, tensorShapes, type ModelShape } from "./shape.ts";

/** Parameters by Hugging Face tensor name, row-major float32, shapes as tensorShapes(shape). */
export type Params = Map<string, Float32Array>;

export interface Model {
  shape: ModelShape;
  params: Params;
}

/** transformers' LlamaPreTrainedModel init: weights ~ N(0, initializer_range 0.02), RMSNorm weights 1. */
const INIT_STD = 0.02;

export function initModel(shape: ModelShape, seed: number | string): Model {
  checkShape(shape);
  const params: Params = new Map();
  for (const [name, dims] of tensorShapes(shape)) {
    const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (dims.length === 1) values.fill(1);
    else {
      const rng = seededRng("train-init", seed, name);
      for (let i = 0; i < values.length; i += 2) {
        // Box–Muller: two normals from two uniforms; 1 − u keeps the logarithm finite.
        const radius = INIT_STD * Math.sqrt(-2 * Math.log(1 - rng.next()));
        const angle = 2 * Math.PI * rng.next();
        values[i] = radius * Math.cos(angle);
        if (i + 1 < values.length) values[i + 1] = radius * Math.sin(angle);
      }
    }
    params.set(name, values);
  }
  return { shape, params };
}

/** Reads a Hugging Face folder: config.json and its safetensors (any float dtype, sharded or not). */
export async function loadModel(dir: string): Promise<Model> {
  const configPath = join(dir, "config.json");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`${configPath}: cannot read (${(err as Error).message})`);
  }
  const shape = shapeFromConfig(parseLlamaConfig(raw, configPath), configPath);
  const checkpoint = await Checkpoint.open(dir);
  const params: Params = new Map();
  try {
    for (const [name, dims] of tensorShapes(shape)) {
      const entry = checkpoint.get(name);
      if (!entry) throw new InputError(`${dir}: tensor ${name} is missing`);
      if (!isFloatDtype(entry.dtype)) throw new InputError(`${dir}: tensor ${name} has dtype ${entry.dtype}, not a float`);
      if (entry.shape.join() !== dims.join()) throw new InputError(`${dir}: tensor ${name} has shape [${entry.shape.join(", ")}], the config says [${dims.join(", ")}]`);
      const bytes = new Uint8Array(entry.byteLength);
      await checkpoint.readInto(entry, bytes);
      params.set(name, decodeToFloat32(bytes, entry.dtype));
    }
  } finally {
    await checkpoint.close();
  }
  return { shape, params };
}

/** Writes model.safetensors (BF16, as the family is distributed) and config.json with `extraConfig` merged in. */
export async function saveModel(dir: string, model: Model, extraConfig: Record<string, unknown> = {}): Promise<void> {
  const tensors = tensorShapes(model.shape).map(([name, shape]) => {
    const values = model.params.get(name);
    if (!values) throw new Error(`saveModel: tensor ${name} is missing`);
    return { name, dtype: "BF16" as const, shape, values };
  });
  await saveCheckpoint(dir, tensors);
  await writeFile(join(dir, "config.json"), JSON.stringify(configJson(model.shape, extraConfig), null, 2) + "\n");
}
