import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  env,
  random,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type Tensor,
} from "@huggingface/transformers";
import { InputError } from "../../errors.ts";
import { ensureOnnxFolder } from "../../models/export.ts";
import { BackendError, type Backend, type ChatMessage, type GenerationRequest, type GenerationResult } from "../types.ts";

export interface OnnxOptions {
  /**
   * A model folder as @huggingface/transformers exports it (config.json, tokenizer files, onnx/model.onnx), or a
   * LLaMA-family safetensors folder, exported on first use and cached by weights hash.
   */
  dir: string;
  /** Where safetensors exports are cached (default $MERGEVAL_CACHE/onnx or ~/.cache/mergeval/onnx). */
  exportCache?: string;
}

/**
 * A local decoder through @huggingface/transformers on onnxruntime-node (CPU). Remote loading is switched off:
 * nothing is ever downloaded. Prompts are rendered with the model's own chat template, and generations run
 * one at a time (the CPU is the limit, and the library's sampling RNG is global).
 */
export async function createOnnxBackend({ dir, exportCache }: OnnxOptions): Promise<Backend> {
  const folder = await ensureOnnxFolder(resolve(dir), exportCache);
  for (const file of ["config.json", "tokenizer.json", join("onnx", "model.onnx")]) {
    if (!existsSync(join(folder, file))) throw new InputError(`model folder ${folder} has no ${file}`);
  }
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = "/";
  const options = { local_files_only: true } as const;
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(folder, options);
  const model: PreTrainedModel = await AutoModelForCausalLM.from_pretrained(folder, { ...options, dtype: "fp32", device: "cpu" });
  let fingerprint: Promise<string> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const render = async (messages: ChatMessage[]): Promise<string> => {
    try {
      return tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }) as string;
    } catch (err) {
      throw new InputError(`${folder}: cannot render the chat template (${(err as Error).message})`);
    }
  };

  const generateOne = async ({ messages, decoding }: GenerationRequest, signal: AbortSignal): Promise<GenerationResult> => {
    if (signal.aborted) throw new BackendError("aborted", false);
    const renderedPrompt = await render(messages);
    const inputs = tokenizer(renderedPrompt, { add_special_tokens: false });
    const sample = decoding.temperature > 0;
    // Seeded per prompt, so a sample does not depend on what ran before it.
    if (sample) random.seed(seedFor(decoding.seed ?? 0, renderedPrompt));
    const output = (await model.generate({
      ...inputs,
      max_new_tokens: decoding.maxTokens,
      do_sample: sample,
      ...(sample ? { temperature: decoding.temperature, ...(decoding.topP !== undefined ? { top_p: decoding.topP } : {}) } : {}),
    })) as Tensor;
    const promptTokens = (inputs.input_ids as Tensor).dims[1]!;
    const all = (output.tolist() as bigint[][])[0]!;
    const fresh = all.slice(promptTokens);
    const eos = eosIds(model);
    const stopped = fresh.length > 0 && eos.has(Number(fresh[fresh.length - 1]));
    return {
      text: tokenizer.decode(fresh, { skip_special_tokens: true }),
      renderedPrompt,
      promptTokens,
      completionTokens: fresh.length,
      finishReason: stopped ? "stop" : "length",
    };
  };

  return {
    kind: "onnx",
    fingerprint: () => (fingerprint ??= hashModelFiles(folder)),
    render,
    generate(request, signal) {
      const run = queue.then(() => generateOne(request, signal));
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      await model.dispose();
    },
  };
}

function eosIds(model: PreTrainedModel): Set<number> {
  const config = model.generation_config as { eos_token_id?: number | number[] } | undefined;
  const eos = config?.eos_token_id ?? (model.config as { eos_token_id?: number | number[] }).eos_token_id;
  return new Set(eos === undefined ? [] : Array.isArray(eos) ? eos : [eos]);
}

function seedFor(seed: number, prompt: string): number {
  return createHash("sha256").update(`${seed}\u0000${prompt}`).digest().readUInt32LE(0);
}

/** SHA-256 over the weights (onnx/*) and the files that shape the output (config, tokenizer, chat template). */
async function hashModelFiles(folder: string): Promise<string> {
  const onnx = (await readdir(join(folder, "onnx"))).sort().map((f) => join("onnx", f));
  const files = [...onnx, "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"].filter((f) => existsSync(join(folder, f)));
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(`${file}\u0000`);
    for await (const chunk of createReadStream(join(folder, file))) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}
