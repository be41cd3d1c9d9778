import { createReadStream, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { copyFile, mkdir, open, readFile, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { Checkpoint } from "../merge/safetensors/checkpoint.ts";
import type { TensorEntry } from "../merge/safetensors/header.ts";
import { decodeToFloat32, isFloatDtype, type FloatDtype } from "../merge/safetensors/dtype.ts";
import { TOKENIZER_FILES } from "../merge/output.ts";
import { expectedTensors, parseLlamaConfig, type ExpectedTensor } from "./llama-config.ts";
import { buildLlamaGraph } from "./llama-onnx.ts";
import { encodeOnnxModel, type OnnxGraph } from "./onnx-proto.ts";

/** One protobuf holds at most 2 GB: above this many bytes of weights they go to onnx/model.onnx_data. */
export const EXTERNAL_DATA_ABOVE = 1.5e9;

/** Files are written in slices this large, so progress moves while a big model.onnx goes to disk. */
const WRITE_SLICE = 64 * 1024 * 1024;

export type ExportPhase = "converting" | "writing";

export interface ExportOptions {
  /** Above this many bytes of graph weights (float32) they go to onnx/model.onnx_data. */
  externalDataAbove?: number;
  /** A phase begins: converting the checkpoint's tensors (read, decode, lay out), then writing the ONNX files. */
  onPhase?: (phase: ExportPhase, totalBytes: number) => void;
  /** `bytes` more of the current phase are done; `detail` names the tensor or file. */
  onProgress?: (bytes: number, detail: string) => void;
}

export interface ExportSummary {
  outDir: string;
  /** What was written, relative to outDir: onnx/model.onnx, and onnx/model.onnx_data for external data. */
  files: string[];
  bytes: number;
  /** Checkpoint tensors in the graph. */
  tensors: number;
  /** Checkpoint tensors the export left out, as transformers would ignore them on loading. */
  warnings: string[];
}

/**
 * Exports a LLaMA-family Hugging Face folder (safetensors) to `OUT/onnx/model.onnx` with the config and tokenizer
 * files beside it: the layout @huggingface/transformers loads. Everything the config says is checked against
 * the checkpoint's headers before any tensor is read; a config value the graph cannot honour is refused, never
 * approximated. The files are written under temporary names and renamed, so a failed export leaves no
 * half-written model.
 */
export async function exportOnnx(modelDir: string, outDir: string = modelDir, options: ExportOptions = {}): Promise<ExportSummary> {
  const { externalDataAbove = EXTERNAL_DATA_ABOVE, onPhase = () => {}, onProgress = () => {} } = options;
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
  const expected = expectedTensors(config);
  const checkpoint = await Checkpoint.open(source);
  const warnings: string[] = [];
  let graph: OnnxGraph;
  try {
    const entries = checkTensors(checkpoint, expected, configPath, warnings);
    const f32Bytes = (entry: TensorEntry) => (entry.byteLength / (entry.dtype === "F32" ? 4 : 2)) * 4;
    onPhase("converting", [...entries.values()].reduce((sum, entry) => sum + f32Bytes(entry), 0));
    const read = async (entry: TensorEntry): Promise<Float32Array> => {
      const data = new Uint8Array(entry.byteLength);
      await checkpoint.readInto(entry, data);
      return decodeToFloat32(data, entry.dtype as FloatDtype);
    };
    try {
      graph = await buildLlamaGraph(config, async (name) => {
        const entry = entries.get(name);
        if (!entry) return undefined;
        const values = await read(entry);
        onProgress(f32Bytes(entry), name);
        return values;
      });
    } catch (err) {
      throw err instanceof InputError ? err : new InputError(`${source}: ${(err as Error).message}`);
    }
    // transformers ties lm_head to the embeddings when the config says so, whatever the file holds.
    const fileHead = checkpoint.get("lm_head.weight");
    if (config.tiedEmbeddings && fileHead) {
      const embed = entries.get("model.embed_tokens.weight")!;
      const same = isFloatDtype(fileHead.dtype) && fileHead.shape.join() === embed.shape.join() && sameValues(await read(fileHead), await read(embed));
      if (!same) {
        warnings.push(`${configPath}: tie_word_embeddings is true, so the output layer is model.embed_tokens.weight, as in transformers; the checkpoint's lm_head.weight differs from it and is not used`);
      }
    }
  } finally {
    await checkpoint.close();
  }

  const weightBytes = graph.initializers.reduce((sum, t) => sum + t.values.byteLength, 0);
  const external = weightBytes > externalDataAbove;
  const dataChunks: Uint8Array[] = [];
  const model = external ? encodeOnnxModel(graph, { location: "model.onnx_data", write: (b) => void dataChunks.push(b) }) : encodeOnnxModel(graph);
  const outputs: [string, Uint8Array[]][] = [
    ...(external ? [["model.onnx_data", dataChunks] as [string, Uint8Array[]]] : []),
    ["model.onnx", [model]],
  ];
  const bytes = outputs.reduce((sum, [, chunks]) => sum + chunks.reduce((s, c) => s + c.byteLength, 0), 0);

  const target = resolve(outDir);
  const onnxDir = join(target, "onnx");
  const createdDir = !existsSync(onnxDir);
  await mkdir(onnxDir, { recursive: true });
  const partial = (name: string) => join(onnxDir, `.${name}.partial-${process.pid}`);
  try {
    onPhase("writing", bytes);
    for (const [name, chunks] of outputs) await writeChunks(partial(name), chunks, (n) => onProgress(n, `onnx/${name}`));
    if (target !== source) {
      for (const file of ["config.json", ...TOKENIZER_FILES]) if (existsSync(join(source, file))) await copyFile(join(source, file), join(target, file));
    }
    // transformers.js reads onnx/model.onnx_data only when the config says so.
    const transformersConfig = { ...((raw["transformers.js_config"] as Record<string, unknown> | undefined) ?? {}), use_external_data_format: external };
    await writeFile(join(target, "config.json"), JSON.stringify({ ...raw, "transformers.js_config": transformersConfig }, null, 2) + "\n");
    for (const [name] of outputs) await rename(partial(name), join(onnxDir, name)); // model.onnx last
  } catch (err) {
    for (const [name] of outputs) await rm(partial(name), { force: true });
    if (createdDir) await rmdir(onnxDir).catch(() => {});
    throw err;
  }
  return { outDir: target, files: outputs.map(([name]) => `onnx/${name}`), bytes, tensors: expected.length, warnings };
}

/**
 * The checkpoint's entry for every tensor the config needs, each checked for presence, dtype and shape; what
 * the checkpoint holds beyond them is reported in `warnings` (transformers ignores it too).
 */
function checkTensors(checkpoint: Checkpoint, expected: ExpectedTensor[], configPath: string, warnings: string[]): Map<string, TensorEntry> {
  const entries = new Map<string, TensorEntry>();
  for (const { name, shape, requiredBy } of expected) {
    const entry = checkpoint.get(name);
    if (!entry) {
      throw new InputError(requiredBy ? `${configPath}: ${requiredBy}, but the checkpoint has no ${name}` : `${checkpoint.dir}: the checkpoint has no tensor ${name}, which ${configPath} implies`);
    }
    if (!isFloatDtype(entry.dtype)) throw new InputError(`${entry.file}: tensor "${name}" has dtype ${entry.dtype}; only F32, F16 and BF16 export`);
    if (entry.shape.join() !== shape.join()) {
      throw new InputError(`${entry.file}: tensor "${name}" has shape [${entry.shape.join(", ")}], but ${configPath} implies [${shape.join(", ")}]`);
    }
    entries.set(name, entry);
  }
  // Old checkpoints store the rotary inverse frequencies, a buffer transformers recomputes and skips.
  const unused = [...checkpoint.tensors.keys()].filter((name) => !entries.has(name) && !name.endsWith("rotary_emb.inv_freq") && name !== "lm_head.weight");
  if (unused.length > 0) {
    const shown = unused.slice(0, 5).join(", ") + (unused.length > 5 ? `, … (${unused.length - 5} more)` : "");
    warnings.push(`${checkpoint.dir}: ${unused.length} tensor${unused.length > 1 ? "s" : ""} not used by ${configPath}, left out as transformers would: ${shown}`);
  }
  return entries;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

async function writeChunks(path: string, chunks: Uint8Array[], done: (bytes: number) => void): Promise<void> {
  const file = await open(path, "w");
  try {
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength; ) {
        const slice = chunk.subarray(at, Math.min(at + WRITE_SLICE, chunk.byteLength));
        let written = 0;
        while (written < slice.byteLength) written += (await file.write(slice, written)).bytesWritten;
        at += slice.byteLength;
        done(slice.byteLength);
      }
    }
  } finally {
    await file.close();
  }
}

/** Where exports of safetensors folders are cached, by weights hash: $MERGEVAL_CACHE or ~/.cache/mergeval. */
export function exportCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.MERGEVAL_CACHE ?? join(homedir(), ".cache", "mergeval"), "onnx");
}

/**
 * A folder ready for the local backend: `dir` itself when it holds onnx/model.onnx; otherwise, for a
 * safetensors folder, its export, made on first use and cached by a hash of the weights and configuration.
 */
export async function ensureOnnxFolder(dir: string, cacheRoot: string = exportCacheRoot(), onWarning: (message: string) => void = () => {}): Promise<string> {
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
  if (!existsSync(join(cached, "onnx", "model.onnx"))) (await exportOnnx(folder, cached)).warnings.forEach(onWarning);
  return cached;
}
