import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  LogitsProcessor,
  LogitsProcessorList,
  random,
  StoppingCriteria,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor,
} from "@huggingface/transformers";
import { errorMessage, InputError } from "../../errors.ts";
import { ensureOnnxFolder } from "../../models/export.ts";
import { loadChatTemplate } from "../chat-template.ts";
import { BackendError, type Backend, type DecodingParams, type GenerationRequest, type GenerationResult } from "../types.ts";

export interface OnnxOptions {
  /**
   * A model folder as @huggingface/transformers exports it (config.json, tokenizer.json, tokenizer_config.json,
   * onnx/model.onnx), or a LLaMA-family safetensors folder, exported on first use and cached by weights hash.
   */
  dir: string;
  /** Which weights file: only "fp32" (onnx/model.onnx, with onnx/model.onnx_data* when config.json says so). */
  dtype?: "fp32";
  /** Where safetensors exports are cached (default $MERGEVAL_CACHE/onnx or ~/.cache/mergeval/onnx). */
  exportCache?: string;
  /** What the export on first use warns about (tensors left out, an unused lm_head). */
  onWarning?: (message: string) => void;
}

/** The local backend's factory, for the backend registry. */
export const onnxBackend = {
  kind: "onnx",
  create: (options: OnnxOptions): Promise<Backend> => createOnnxBackend(options),
} as const;

/** What a folder must hold, checked before the library is asked to load it. */
const REQUIRED_FILES = ["config.json", "tokenizer.json", "onnx/model.onnx"] as const;
/** Besides the weights, the files that shape the output: hashed into the fingerprint when present. */
const SHAPING_FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json"];

/**
 * One generation at a time in the whole process: the CPU is the limit anyway, and the library samples from one
 * global RNG, seeded per request, which two interleaved generations would share.
 */
let queue: Promise<unknown> = Promise.resolve();
function serialised<T>(run: () => Promise<T>): Promise<T> {
  const result = queue.then(run);
  queue = result.catch(() => undefined);
  return result;
}

/**
 * A local decoder through @huggingface/transformers on onnxruntime-node (CPU). Remote loading is off and only
 * local files are read: nothing is ever downloaded. Prompts are rendered with the model's own chat template
 * (src/generate/chat-template.ts) and tokenized as rendered (the template writes BOS; no special tokens are added).
 *
 * Decoding is fully set by DecodingParams, whatever the model's generation_config.json suggests for sampling:
 * temperature 0 is greedy; temperature > 0 samples over the whole vocabulary (no top-k) after temperature and,
 * when topP < 1, nucleus filtering. Sampling is seeded from (seed, rendered prompt) through the library's
 * Python-compatible Mersenne Twister (`random.seed`; seed 0 when none is given), so a sample does not depend on
 * what ran before it.
 * Stopping (eos ids), repetition penalties and the like still come from the model's own configuration.
 */
export async function createOnnxBackend({ dir, dtype, exportCache, onWarning }: OnnxOptions): Promise<Backend> {
  if (dtype !== undefined && dtype !== "fp32") throw new InputError(`onnx backend: dtype ${String(dtype)} is not supported (only fp32: onnx/model.onnx)`);
  const folder = await ensureOnnxFolder(resolve(dir), exportCache, onWarning);
  if (!existsSync(folder)) throw new InputError(`model folder ${folder} does not exist (expected ${REQUIRED_FILES.join(", ")})`);
  const missing = REQUIRED_FILES.filter((file) => !existsSync(join(folder, file)));
  if (missing.length > 0) throw new InputError(`model folder ${folder} has no ${missing.join(", no ")}`);

  const chatTemplate = await loadChatTemplate(folder);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // An absolute path is read as a path, never as a Hub id (so env.localModelPath is not involved).
  const options = { local_files_only: true } as const;
  let tokenizer: PreTrainedTokenizer;
  let model: PreTrainedModel;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(folder, options);
    model = await AutoModelForCausalLM.from_pretrained(folder, { ...options, dtype: "fp32", device: "cpu" });
  } catch (err) {
    throw new InputError(`model folder ${folder} cannot be loaded: ${errorMessage(err)}`);
  }
  const eos = eosIds(model);
  let fingerprint: Promise<string> | undefined;
  let closed = false;

  const render = async (messages: GenerationRequest["messages"]): Promise<string> => chatTemplate.render(messages);

  const generateOne = async ({ messages, decoding }: GenerationRequest, signal: AbortSignal): Promise<GenerationResult> => {
    if (closed) throw new BackendError(`${folder}: backend is closed`, false);
    throwIfAborted(signal, folder);
    const renderedPrompt = chatTemplate.render(messages);
    const inputs = tokenizer(renderedPrompt, { add_special_tokens: false });
    const promptTokens = (inputs.input_ids as Tensor).dims[1]!;
    const sample = decoding.temperature > 0;
    if (sample) random.seed(seedFor(decoding.seed ?? 0, renderedPrompt));
    const output = (await model.generate({
      ...inputs,
      max_new_tokens: decoding.maxTokens,
      num_beams: 1,
      do_sample: sample,
      ...(sample ? { temperature: decoding.temperature, top_k: 0, logits_processor: topPProcessors(decoding.topP) } : {}),
      stopping_criteria: [new AbortCriteria(signal)],
    })) as Tensor;
    throwIfAborted(signal, folder); // stopped between tokens: no partial result
    const fresh = (output.tolist() as bigint[][])[0]!.slice(promptTokens);
    const last = fresh[fresh.length - 1];
    return {
      text: tokenizer.decode(fresh, { skip_special_tokens: true }),
      renderedPrompt,
      promptTokens,
      completionTokens: fresh.length, // the eos token included, when generated
      finishReason: last !== undefined && eos.has(Number(last)) ? "stop" : "length",
    };
  };

  return {
    kind: "onnx",
    fingerprint: () => (fingerprint ??= hashModelFiles(folder)),
    render,
    generate(request, signal) {
      try {
        checkDecoding(request.decoding);
      } catch (err) {
        return Promise.reject(err);
      }
      return serialised(() => generateOne(request, signal));
    },
    async close() {
      if (closed) return;
      closed = true;
      await serialised(() => model.dispose());
    },
  };
}

function checkDecoding({ maxTokens, temperature, topP }: DecodingParams): void {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new InputError(`maxTokens must be a positive integer, got ${maxTokens}`);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InputError(`temperature must be a number ≥ 0, got ${temperature}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new InputError(`topP must be in (0, 1], got ${topP}`);
}

/** The user's abort cannot be retried; the runner's per-request timeout can (as for the HTTP backends). */
function throwIfAborted(signal: AbortSignal, folder: string): void {
  if (!signal.aborted) return;
  const reason = signal.reason as { name?: string; message?: string } | undefined;
  if (reason?.name === "TimeoutError") throw new BackendError(`${folder}: ${reason.message ?? "timed out"}`, true);
  throw new BackendError(`${folder}: aborted`, false);
}

/** Ends generation at the next token once the request is aborted (checked after every token). */
class AbortCriteria extends StoppingCriteria {
  constructor(private readonly signal: AbortSignal) {
    super();
  }
  override _call(inputIds: number[][]): boolean[] {
    return inputIds.map(() => this.signal.aborted);
  }
}

/**
 * Nucleus filtering, which transformers.js 4.x does not apply (it accepts top_p and ignores it): per row, keeps
 * the most probable tokens until their probability reaches topP (the one crossing it included), as
 * transformers' TopPLogitsWarper does; the rest get -Infinity.
 */
class TopPProcessor extends LogitsProcessor {
  constructor(private readonly topP: number) {
    super();
  }
  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const vocab = logits.dims[logits.dims.length - 1]!;
    const data = logits.data as Float32Array;
    for (let row = 0; row < data.length; row += vocab) filterTopP(data.subarray(row, row + vocab), this.topP);
    return logits;
  }
}

export function filterTopP(logits: Float32Array, topP: number): void {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const max = logits[order[0]!]!;
  let total = 0;
  for (const i of order) total += Math.exp(logits[i]! - max);
  let kept = 0;
  let k = 0;
  for (; k < order.length && kept < topP; k++) kept += Math.exp(logits[order[k]!]! - max) / total;
  for (; k < order.length; k++) logits[order[k]!] = -Infinity;
}

function topPProcessors(topP: number | undefined): LogitsProcessorList | undefined {
  if (topP === undefined || topP >= 1) return undefined;
  const list = new LogitsProcessorList();
  list.push(new TopPProcessor(topP));
  return list;
}

function eosIds(model: PreTrainedModel): Set<number> {
  const config = model.generation_config as { eos_token_id?: number | number[] | null } | null;
  const eos = config?.eos_token_id ?? (model.config as { eos_token_id?: number | number[] | null }).eos_token_id;
  return new Set(eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos]);
}

function seedFor(seed: number, prompt: string): number {
  return createHash("sha256").update(`${seed}\u0000${prompt}`).digest().readUInt32LE(0);
}

/**
 * SHA-256 over the files that decide the output, streamed from disk: the weights the fp32 load reads
 * (onnx/model.onnx and its external data onnx/model.onnx_data*; other variants such as model_quantized.onnx are
 * not loaded, so not hashed), then config, generation config, tokenizer and chat template files. Each file enters
 * as its name, its size and its bytes.
 */
export async function hashModelFiles(folder: string): Promise<string> {
  const weights = (await readdir(join(folder, "onnx"))).filter((f) => f === "model.onnx" || f.startsWith("model.onnx_data")).sort();
  const files = [...weights.map((f) => `onnx/${f}`), ...SHAPING_FILES.filter((f) => existsSync(join(folder, f)))];
  const hash = createHash("sha256");
  for (const file of files) {
    const path = join(folder, file);
    hash.update(`${file}\u0000${(await stat(path)).size}\u0000`);
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}
