import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, open, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { Checkpoint } from "../merge/safetensors/checkpoint.ts";
import { decodeToFloat32, isFloatDtype } from "../merge/safetensors/dtype.ts";
import { TOKENIZER_FILES } from "../merge/output.ts";
import { buildLlamaGraph } from "./llama-onnx.ts";
import { parseLlamaConfig } from "./llama-reference.ts";
import { encodeOnnxModel } from "./onnx-proto.ts";

/** One protobuf holds at most 2 GB: above this many bytes of weights they go to onnx/model.onnx_data. */
export const EXTERNAL_DATA_ABOVE = 1.5e9;

export interface ExportSummary {
  outDir: string;
  bytes: number;
  tensors: number;
}

/**
 * Exports a LLaMA-family Hugging Face folder (safetensors) to `OUT/onnx/model.onnx` with the config and tokenizer
 * files beside it: the layout @huggingface/transformers loads. The file is written under a temporary name and
 * renamed, so a failed export leaves no half-written model.
 */
export async function exportOnnx(modelDir: string, outDir: string = modelDir, externalDataAbove = EXTERNAL_DATA_ABOVE): Promise<ExportSummary> {
  const source = resolve(modelDir);
  const configPath = join(source, "config.json");
  if (!existsSync(configPath)) throw new InputError(`${source}: no config.json`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const config = parseLlamaConfig(raw, configPath);
  const checkpoint = await Checkpoint.open(source);
  const weights = new Map<string, Float32Array>();
  let bytes = 0;
  try {
    for (const [name, entry] of checkpoint.tensors) {
      if (!isFloatDtype(entry.dtype)) throw new InputError(`${entry.file}: tensor "${name}" has dtype ${entry.dtype}; only F32, F16 and BF16 export`);
      bytes += (entry.byteLength / (entry.dtype === "F32" ? 4 : 2)) * 4;
      const data = new Uint8Array(entry.byteLength);
      await checkpoint.readInto(entry, data);
      weights.set(name, decodeToFloat32(data, entry.dtype));
    }
  } finally {
    await checkpoint.close();
  }
  let graph;
  try {
    graph = buildLlamaGraph(config, (name) => weights.get(name));
  } catch (err) {
    throw new InputError(`${source}: ${(err as Error).message}`);
  }
  const target = resolve(outDir);
  await mkdir(join(target, "onnx"), { recursive: true });
  const external = bytes > externalDataAbove;
  const dataName = "model.onnx_data";
  const partial = (name: string) => join(target, "onnx", `.${name}.partial-${process.pid}`);
  let dataBytes = 0;
  let model: Uint8Array;
  if (external) {
    const data = await open(partial(dataName), "w");
    const chunks: Uint8Array[] = [];
    model = encodeOnnxModel(graph, { location: dataName, write: (b) => void chunks.push(b) });
    for (const chunk of chunks) {
      await data.write(chunk);
      dataBytes += chunk.byteLength;
    }
    await data.close();
  } else {
    model = encodeOnnxModel(graph);
  }
  if (target !== source) {
    for (const file of ["config.json", ...TOKENIZER_FILES]) if (existsSync(join(source, file))) await copyFile(join(source, file), join(target, file));
  }
  // transformers.js reads onnx/model.onnx_data only when the config says so.
  const transformersConfig = { ...((raw["transformers.js_config"] as Record<string, unknown> | undefined) ?? {}), use_external_data_format: external };
  await writeFile(join(target, "config.json"), JSON.stringify({ ...raw, "transformers.js_config": transformersConfig }, null, 2) + "\n");
  await writeFile(partial("model.onnx"), model);
  if (external) await rename(partial(dataName), join(target, "onnx", dataName));
  await rename(partial("model.onnx"), join(target, "onnx", "model.onnx"));
  return { outDir: target, bytes: model.byteLength + dataBytes, tensors: weights.size };
}

/** Where exports of safetensors folders are cached, by weights hash: $MERGEVAL_CACHE or ~/.cache/mergeval. */
export function exportCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.MERGEVAL_CACHE ?? join(homedir(), ".cache", "mergeval"), "onnx");
}

/**
 * A folder ready for the local backend: `dir` itself when it holds onnx/model.onnx; otherwise, for a
 * safetensors folder, its export, made on first use and cached by a hash of the weights and configuration.
 */
export async function ensureOnnxFolder(dir: string, cacheRoot: string = exportCacheRoot()): Promise<string> {
  const folder = resolve(dir);
  if (existsSync(join(folder, "onnx", "model.onnx"))) return folder;
  const files = existsSync(folder) ? (await readdir(folder)).filter((f) => f.endsWith(".safetensors") || f === "config.json").sort() : [];
  if (!files.some((f) => f.endsWith(".safetensors"))) return folder; // nothing to export: the backend names what is missing
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(`${file}\u0000`);
    for await (const chunk of createReadStream(join(folder, file))) hash.update(chunk as Buffer);
  }
  const cached = join(cacheRoot, hash.digest("hex").slice(0, 32));
  if (!existsSync(join(cached, "onnx", "model.onnx"))) await exportOnnx(folder, cached);
  return cached;
}
