import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoTokenizer, env, type Tensor } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAMILY, familyConfig, familyTensors, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { seededRng } from "../../src/merge/rng.ts";
import { saveCheckpoint } from "../../src/merge/safetensors/save.ts";
import { exportOnnx } from "../../src/models/export.ts";
import { llamaGreedy, llamaLogits, loadWeights, parseLlamaConfig, type LlamaConfig } from "../../src/models/llama-reference.ts";
import { expectInputError } from "../expect-input-error.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-export-"));
  await writeFixtureFamily(dir, FAMILY.filter((m) => m.name === "base"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const int64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);

/** Runs the exported graph on `ids` after feeding `prefix` tokens through the cache first (0 = no cache). */
async function onnxLogits(folder: string, config: LlamaConfig, ids: number[], prefix: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(folder, "onnx", "model.onnx"));
  const past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < config.layers; l++) for (const k of ["key", "value"]) past[`past_key_values.${l}.${k}`] = new ort.Tensor("float32", new Float32Array(0), [1, config.kvHeads, 0, config.headDim]);
  const run = (tokens: number[], start: number, cache: Record<string, ort.Tensor>) =>
    session.run({
      input_ids: int64(tokens, [1, tokens.length]),
      attention_mask: int64(new Array(start + tokens.length).fill(1), [1, start + tokens.length]),
      position_ids: int64(tokens.map((_, i) => start + i), [1, tokens.length]),
      ...cache,
    });
  let cache = past;
  if (prefix > 0) {
    const first = await run(ids.slice(0, prefix), 0, past);
    cache = Object.fromEntries(Object.keys(past).map((name) => [name, first[name.replace("past_key_values", "present")]!]));
  }
  const out = await run(ids.slice(prefix), prefix, cache);
  await session.release();
  return out.logits!.data as Float32Array;
}

function maxAbsDiff(reference: Float64Array[], onnx: Float32Array, vocab: number): number {
  let max = 0;
  reference.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - onnx[t * vocab + i]!)))));
  return max;
}

describe("export-onnx (LLaMA family) against the float64 reference", () => {
  it("matches the reference logits, with and without the KV cache (max abs diff < 1e-4)", async () => {
    const folder = join(dir, "base");
    await exportOnnx(folder);
    const config = parseLlamaConfig(familyConfig(), "config.json");
    const weights = await loadWeights(folder);
    const ids = [1, 4, 6 + 72, 6 + 105, 2, 5, 6 + 33, 6 + 200];
    const reference = llamaLogits(config, (n) => weights.get(n), ids);
    expect(maxAbsDiff(reference, await onnxLogits(folder, config, ids, 0), config.vocab)).toBeLessThan(1e-4);
    expect(maxAbsDiff(reference.slice(5), await onnxLogits(folder, config, ids, 5), config.vocab)).toBeLessThan(1e-4);
  });

  it("greedy generation through @huggingface/transformers equals greedy decoding of the reference", async () => {
    const folder = join(dir, "base");
    const config = parseLlamaConfig(familyConfig(), "config.json");
    const weights = await loadWeights(folder);
    env.allowRemoteModels = false;
    env.localModelPath = "/";
    const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
    const model = await AutoModelForCausalLM.from_pretrained(folder, { local_files_only: true, dtype: "fp32", device: "cpu" });
    for (const text of ["Why is the sky blue?", "आसमान नीला क्यों है?", "Почему?"]) {
      const prompt = tokenizer.apply_chat_template([{ role: "user", content: text }], { tokenize: false, add_generation_prompt: true }) as string;
      const inputs = tokenizer(prompt, { add_special_tokens: false });
      const promptIds = ((inputs.input_ids as Tensor).tolist() as bigint[][])[0]!.map(Number);
      const generated = ((await model.generate({ ...inputs, max_new_tokens: 6, do_sample: false })) as Tensor).tolist() as bigint[][];
      const fromLibrary = generated[0]!.slice(promptIds.length).map(Number);
      expect(fromLibrary).toEqual(llamaGreedy(config, (n) => weights.get(n), promptIds, 6, [2]));
    }
    await model.dispose();
  }, 60_000);

  it("handles qwen2's q/k/v biases and tied embeddings", async () => {
    const folder = join(dir, "qwen");
    const rng = seededRng("bias");
    const tensors = familyTensors(FAMILY[0]!).filter((t) => t.name !== "lm_head.weight");
    for (let l = 0; l < 4; l++) {
      for (const [proj, size] of [["q_proj", 64], ["k_proj", 32], ["v_proj", 32]] as const) {
        tensors.push({ name: `model.layers.${l}.self_attn.${proj}.bias`, dtype: "F32", shape: [size], values: Float32Array.from({ length: size }, () => rng.next() - 0.5) });
      }
    }
    await saveCheckpoint(folder, tensors);
    const raw = { ...familyConfig(), model_type: "qwen2", tie_word_embeddings: true };
    await writeFile(join(folder, "config.json"), JSON.stringify(raw));
    await exportOnnx(folder);
    const config = parseLlamaConfig(raw, "config.json");
    const weights = await loadWeights(folder);
    const ids = [1, 4, 80, 90, 2, 5];
    expect(maxAbsDiff(llamaLogits(config, (n) => weights.get(n), ids), await onnxLogits(folder, config, ids, 0), config.vocab)).toBeLessThan(1e-4);
  });

  it("writes the weights to onnx/model.onnx_data when the model is large, and both runtimes load it", async () => {
    await writeFixtureFamily(join(dir, "ext"), FAMILY.filter((m) => m.name === "general"));
    const folder = join(dir, "ext", "general");
    await exportOnnx(folder, folder, 0); // every model counts as large
    const config = parseLlamaConfig(familyConfig(), "config.json");
    expect(JSON.parse(await readFile(join(folder, "config.json"), "utf8"))["transformers.js_config"]).toEqual({ use_external_data_format: true });
    const onnxBytes = (await readFile(join(folder, "onnx", "model.onnx"))).byteLength;
    const dataBytes = (await readFile(join(folder, "onnx", "model.onnx_data"))).byteLength;
    expect(dataBytes).toBeGreaterThan(onnxBytes * 10);
    const weights = await loadWeights(folder);
    const ids = [1, 4, 80, 90, 2, 5];
    expect(maxAbsDiff(llamaLogits(config, (n) => weights.get(n), ids), await onnxLogits(folder, config, ids, 0), config.vocab)).toBeLessThan(1e-4);
    env.allowRemoteModels = false;
    env.localModelPath = "/";
    const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
    const model = await AutoModelForCausalLM.from_pretrained(folder, { local_files_only: true, dtype: "fp32", device: "cpu" });
    const inputs = tokenizer("<s><|user|>hi</s><|assistant|>", { add_special_tokens: false });
    const out = ((await model.generate({ ...inputs, max_new_tokens: 4, do_sample: false })) as Tensor).tolist() as bigint[][];
    expect(out[0]!.slice(6).map(Number)).toEqual(llamaGreedy(config, (n) => weights.get(n), [1, 4, 110, 111, 2, 5], 4, [2]));
    await model.dispose();
  });

  it("refuses what it cannot export, naming it", async () => {
    const folder = join(dir, "gpt2");
    await writeFixtureFamily(folder, FAMILY.filter((m) => m.name === "base"));
    const configPath = join(folder, "base", "config.json");
    const config = JSON.parse(await readFile(configPath, "utf8"));
    await writeFile(configPath, JSON.stringify({ ...config, model_type: "gpt2" }));
    await expectInputError(exportOnnx(join(folder, "base")), configPath, '"gpt2"');
    await writeFile(configPath, JSON.stringify({ ...config, rope_scaling: { type: "linear", factor: 2 } }));
    await expectInputError(exportOnnx(join(folder, "base")), "rope_scaling");
  });
});
