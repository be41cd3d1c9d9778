import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoTokenizer, env, type Tensor } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAMILY, familyConfig, familyTensors, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { seededRng } from "../../src/merge/rng.ts";
import { saveCheckpoint, type TensorToSave } from "../../src/merge/safetensors/save.ts";
import { exportOnnx, type ExportPhase } from "../../src/models/export.ts";
import { parseLlamaConfig, type LlamaConfig } from "../../src/models/llama-config.ts";
import { llamaGreedy, llamaLogits, loadWeights } from "../../src/models/llama-reference.ts";
import { expectInputError } from "../expect-input-error.ts";
import { runCli } from "../run-cli.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-export-"));
  await writeFixtureFamily(dir, FAMILY.filter((m) => m.name === "base"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const int64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), dims);

/**
 * Runs the exported graph on `ids` fed in consecutive chunks through the KV cache ([ids.length]: no cache;
 * [5, 3]: a prompt then three tokens at once; [1, 1, …]: token by token) at positions from `firstPosition`;
 * returns the logits of every position.
 */
async function onnxLogits(folder: string, config: LlamaConfig, ids: number[], chunks: number[], firstPosition = 0): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(folder, "onnx", "model.onnx"));
  let cache: Record<string, ort.Tensor> = {};
  for (let l = 0; l < config.layers; l++) for (const k of ["key", "value"]) cache[`past_key_values.${l}.${k}`] = new ort.Tensor("float32", new Float32Array(0), [1, config.kvHeads, 0, config.headDim]);
  const logits = new Float32Array(ids.length * config.vocab);
  let start = 0;
  for (const size of chunks) {
    const tokens = ids.slice(start, start + size);
    const out = await session.run({
      input_ids: int64(tokens, [1, size]),
      attention_mask: int64(new Array(start + size).fill(1), [1, start + size]),
      position_ids: int64(tokens.map((_, i) => firstPosition + start + i), [1, size]),
      ...cache,
    });
    logits.set(out.logits!.data as Float32Array, start * config.vocab);
    cache = Object.fromEntries(Object.keys(cache).map((name) => [name, out[name.replace("past_key_values", "present")]!]));
    start += size;
  }
  await session.release();
  return logits;
}

function maxAbsDiff(reference: Float64Array[], onnx: Float32Array, vocab: number): number {
  let max = 0;
  reference.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - onnx[t * vocab + i]!)))));
  return max;
}

/**
 * float32 against float64: the logits agree to 1e-6 of the largest logit (about 1e-6 absolute on the fixtures,
 * whose logits reach 2). A wrong activation (erf GELU for tanh GELU: ~3e-4) or window (off by one: ~0.3) is
 * hundreds of times that.
 */
function expectMatches(reference: Float64Array[], onnx: Float32Array, vocab: number): void {
  const largest = Math.max(...reference.map((row) => Math.max(...row.map(Math.abs))));
  expect(maxAbsDiff(reference, onnx, vocab)).toBeLessThanOrEqual(1e-6 * largest);
}

const IDS = [1, 4, 6 + 72, 6 + 105, 2, 5, 6 + 33, 6 + 200, 6 + 101, 6 + 10];
/** No cache; a prompt then the rest at once; token by token. */
const CHUNKINGS = [[IDS.length], [5, IDS.length - 5], IDS.map(() => 1)];

/** Exports `folder` and checks its logits against the float64 reference for every chunking; returns the reference logits. */
async function expectExportMatchesReference(folder: string, raw: Record<string, unknown>): Promise<Float64Array[]> {
  await exportOnnx(folder);
  const config = parseLlamaConfig(raw, "config.json");
  const weights = await loadWeights(folder);
  const reference = llamaLogits(config, (n) => weights.get(n), IDS);
  for (const chunks of CHUNKINGS) expectMatches(reference, await onnxLogits(folder, config, IDS, chunks), config.vocab);
  return reference;
}

/** The fixture family's base checkpoint with config.json keys overridden, tensors added and removed. */
async function variant(name: string, overrides: Record<string, unknown>, tensors: { add?: TensorToSave[]; drop?: string[] } = {}) {
  const folder = join(dir, name);
  await saveCheckpoint(folder, [...familyTensors(FAMILY[0]!).filter((t) => !tensors.drop?.includes(t.name)), ...(tensors.add ?? [])]);
  const raw = { ...familyConfig(), ...overrides };
  const configPath = join(folder, "config.json");
  await writeFile(configPath, JSON.stringify(raw));
  return { folder, raw, configPath };
}

/** Seeded biases for the given projections of every fixture layer. */
function biases(projections: [string, number][], seed: string): TensorToSave[] {
  const rng = seededRng("bias", seed);
  return Array.from({ length: 4 }, (_, l) =>
    projections.map(([proj, size]) => ({
      name: `model.layers.${l}.${proj}.bias`,
      dtype: "F32" as const,
      shape: [size],
      values: Float32Array.from({ length: size }, () => rng.next() - 0.5),
    })),
  ).flat();
}
const QKV: [string, number][] = [["self_attn.q_proj", 64], ["self_attn.k_proj", 32], ["self_attn.v_proj", 32]];

describe("export-onnx (LLaMA family) against the float64 reference", () => {
  it("matches the reference logits without the KV cache, with a prompt in the cache, and token by token", async () => {
    const folder = join(dir, "base");
    await expectExportMatchesReference(folder, familyConfig());
  });

  it("greedy generation through @huggingface/transformers equals greedy decoding of the reference", async () => {
    const folder = join(dir, "base");
    await exportOnnx(folder);
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
    const { folder, raw } = await variant("qwen", { model_type: "qwen2", tie_word_embeddings: true }, { add: biases(QKV, "qwen"), drop: ["lm_head.weight"] });
    await expectExportMatchesReference(folder, raw);
  });

  it("writes the weights to onnx/model.onnx_data when the model is large, and both runtimes load it", async () => {
    await writeFixtureFamily(join(dir, "ext"), FAMILY.filter((m) => m.name === "general"));
    const folder = join(dir, "ext", "general");
    const summary = await exportOnnx(folder, folder, { externalDataAbove: 0 }); // every model counts as large
    expect(summary.files).toEqual(["onnx/model.onnx_data", "onnx/model.onnx"]);
    const config = parseLlamaConfig(familyConfig(), "config.json");
    expect(JSON.parse(await readFile(join(folder, "config.json"), "utf8"))["transformers.js_config"]).toEqual({ use_external_data_format: true });
    const onnxBytes = (await readFile(join(folder, "onnx", "model.onnx"))).byteLength;
    const dataBytes = (await readFile(join(folder, "onnx", "model.onnx_data"))).byteLength;
    expect(dataBytes).toBeGreaterThan(onnxBytes * 10);
    expect(summary.bytes).toBe(onnxBytes + dataBytes);
    const weights = await loadWeights(folder);
    const ids = [1, 4, 80, 90, 2, 5];
    expectMatches(llamaLogits(config, (n) => weights.get(n), ids), await onnxLogits(folder, config, ids, [ids.length]), config.vocab);
    env.allowRemoteModels = false;
    env.localModelPath = "/";
    const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
    const model = await AutoModelForCausalLM.from_pretrained(folder, { local_files_only: true, dtype: "fp32", device: "cpu" });
    const inputs = tokenizer("<s><|user|>hi</s><|assistant|>", { add_special_tokens: false });
    const out = ((await model.generate({ ...inputs, max_new_tokens: 4, do_sample: false })) as Tensor).tolist() as bigint[][];
    expect(out[0]!.slice(6).map(Number)).toEqual(llamaGreedy(config, (n) => weights.get(n), [1, 4, 110, 111, 2, 5], 4, [2]));
    await model.dispose();
  });
});

describe("export-onnx exports what config.json describes", () => {
  it.each(["gelu", "gelu_pytorch_tanh", "gelu_new"])("hidden_act %s: the exported MLP is that activation", async (act) => {
    const { folder, raw } = await variant(`act-${act}`, { hidden_act: act });
    const reference = await expectExportMatchesReference(folder, raw);
    // The check can tell the activations apart: exact GELU is not its tanh approximation, nor SiLU.
    const config = parseLlamaConfig(raw, "config.json");
    const onnx = await onnxLogits(folder, config, IDS, [IDS.length]);
    const weights = await loadWeights(folder);
    for (const other of act === "gelu" ? ["gelu_pytorch_tanh", "silu"] : ["gelu", "silu"]) {
      const otherReference = llamaLogits(parseLlamaConfig({ ...raw, hidden_act: other }, "c"), (n) => weights.get(n), IDS);
      expect(maxAbsDiff(otherReference, onnx, config.vocab)).toBeGreaterThan(100 * maxAbsDiff(reference, onnx, config.vocab));
    }
  });

  it("mistral's sliding window, on a sequence longer than the window, with and without the cache", async () => {
    const { folder, raw } = await variant("mistral-window", { model_type: "mistral", sliding_window: 3, max_position_embeddings: 2048 });
    await expectExportMatchesReference(folder, raw);
    const config = parseLlamaConfig(raw, "c");
    const weights = await loadWeights(folder);
    const onnx = await onnxLogits(folder, config, IDS, [IDS.length]);
    for (const window of [null, 2, 4]) {
      const other = llamaLogits(parseLlamaConfig({ ...raw, sliding_window: window }, "c"), (n) => weights.get(n), IDS);
      expect(maxAbsDiff(other, onnx, config.vocab)).toBeGreaterThan(1e-2); // off by one either way, or no window, shows
    }
  });

  it("qwen2's sliding window on the layers from max_window_layers on, only with use_sliding_window", async () => {
    const add = biases(QKV, "qwen-window");
    const { folder, raw } = await variant("qwen-window", { model_type: "qwen2", use_sliding_window: true, sliding_window: 2, max_window_layers: 2 }, { add });
    expect(parseLlamaConfig(raw, "c").slidingWindow).toEqual([null, null, 2, 2]);
    await expectExportMatchesReference(folder, raw);
  });

  it("llama's attention_bias (q, k, v, o) and mlp_bias (gate, up, down)", async () => {
    const add = biases([...QKV, ["self_attn.o_proj", 64], ["mlp.gate_proj", 128], ["mlp.up_proj", 128], ["mlp.down_proj", 64]], "llama-bias");
    const { folder, raw } = await variant("llama-bias", { attention_bias: true, mlp_bias: true }, { add });
    await expectExportMatchesReference(folder, raw);
  });

  it("a head_dim other than hidden_size / num_attention_heads", async () => {
    const rng = seededRng("head-dim");
    const matrix = (name: string, rows: number, cols: number): TensorToSave => ({
      name,
      dtype: "F32",
      shape: [rows, cols],
      values: Float32Array.from({ length: rows * cols }, () => (rng.next() - 0.5) / 4),
    });
    const add: TensorToSave[] = [];
    const drop: string[] = [];
    for (let l = 0; l < 4; l++) {
      const p = `model.layers.${l}.self_attn.`;
      add.push(matrix(`${p}q_proj.weight`, 4 * 8, 64), matrix(`${p}k_proj.weight`, 2 * 8, 64), matrix(`${p}v_proj.weight`, 2 * 8, 64), matrix(`${p}o_proj.weight`, 64, 4 * 8));
      drop.push(...["q", "k", "v", "o"].map((x) => `${p}${x}_proj.weight`));
    }
    const { folder, raw } = await variant("head-dim", { head_dim: 8 }, { add, drop });
    expect(parseLlamaConfig(raw, "c").headDim).toBe(8);
    await expectExportMatchesReference(folder, raw);
  });

  it("hidden_act swish is SiLU, as transformers' ACT2FN maps it", async () => {
    const { folder, raw } = await variant("act-swish", { hidden_act: "swish" });
    expect(parseLlamaConfig(raw, "c").hiddenAct).toBe("silu");
    await expectExportMatchesReference(folder, raw);
  });

  it("positions far past any table: rotary angles come from position_ids, and only relative positions matter", async () => {
    const { folder, raw } = await variant("far-positions", {});
    const config = parseLlamaConfig(raw, "c");
    await exportOnnx(folder);
    const near = await onnxLogits(folder, config, IDS, [5, IDS.length - 5]);
    const far = await onnxLogits(folder, config, IDS, [5, IDS.length - 5], 20_000);
    // Shifting every position leaves each query-key angle difference unchanged; float32 angles near 2e4 rad
    // carry ~1e-3 rad of rounding, far below the change a wrong rotation would make.
    let maxDiff = 0;
    let largest = 0;
    near.forEach((v, i) => ((maxDiff = Math.max(maxDiff, Math.abs(v - far[i]!))), (largest = Math.max(largest, Math.abs(v)))));
    expect(far.every(Number.isFinite)).toBe(true);
    expect(maxDiff).toBeLessThan(1e-2 * largest);
  });

  it("rope_theta from transformers 5's rope_parameters", async () => {
    const { folder, raw } = await variant("rope-params", { rope_theta: undefined, rope_parameters: { rope_type: "default", rope_theta: 500000 } });
    expect(parseLlamaConfig(raw, "c").ropeTheta).toBe(500000);
    await expectExportMatchesReference(folder, raw);
  });

  it("a tied config uses the embeddings as the output layer, as transformers does, and warns when the file's lm_head differs", async () => {
    const { folder, raw } = await variant("tied-with-head", { tie_word_embeddings: true });
    await expectExportMatchesReference(folder, raw);
    const summary = await exportOnnx(folder);
    expect(summary.warnings).toEqual([expect.stringContaining("tie_word_embeddings is true")]);
    expect(summary.warnings[0]).toContain("lm_head.weight");
  });

  it("tensors the config does not use are left out, as transformers would, with a warning naming them", async () => {
    const { folder, raw } = await variant("stray-bias", {}, { add: biases(QKV, "stray") });
    await expectExportMatchesReference(folder, raw); // the reference, too, reads no bias without attention_bias
    const summary = await exportOnnx(folder);
    expect(summary.warnings).toEqual([expect.stringMatching(/12 tensors not used by .*config\.json.*model\.layers\.0\.self_attn\.q_proj\.bias/)]);
  });
});

describe("export-onnx refuses what it would get wrong, naming the file and the field", () => {
  it("an activation it does not implement", async () => {
    const { folder, configPath } = await variant("relu2", { hidden_act: "relu2" });
    const err = await expectInputError(exportOnnx(folder));
    expect(err.message).toBe(`${configPath}: hidden_act "relu2" is not supported (supported: silu, gelu, gelu_pytorch_tanh, gelu_new, swish)`);
  });

  it("an untied config without lm_head.weight (it used to be tied silently)", async () => {
    for (const tie of [false, undefined]) {
      const { folder, configPath } = await variant("untied-no-head", { tie_word_embeddings: tie }, { drop: ["lm_head.weight"] });
      await expectInputError(exportOnnx(folder), configPath, "tie_word_embeddings is false", "no lm_head.weight");
    }
  });

  it("declared biases the checkpoint lacks, and shapes that disagree with the config", async () => {
    let v = await variant("bias-missing", { attention_bias: true });
    await expectInputError(exportOnnx(v.folder), v.configPath, "attention_bias is true", "model.layers.0.self_attn.q_proj.bias");
    v = await variant("qwen-no-bias", { model_type: "qwen2" });
    await expectInputError(exportOnnx(v.folder), v.configPath, "model_type qwen2 has q/k/v biases", "q_proj.bias");
    v = await variant("wrong-shape", { intermediate_size: 96 });
    await expectInputError(exportOnnx(v.folder), "model.safetensors", "model.layers.0.mlp.gate_proj.weight", "[128, 64]", "[96, 64]", v.configPath);
  });

  it("rotary variants, windows and layer types it does not implement", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ rope_scaling: { type: "linear", factor: 2 } }, 'rope_scaling type "linear" is not supported'],
      [{ rope_parameters: { rope_type: "llama3", rope_theta: 500000, factor: 8 } }, 'rope_parameters type "llama3" is not supported'],
      [{ partial_rotary_factor: 0.5 }, "partial_rotary_factor 0.5 is not supported"],
      [{ rope_parameters: { rope_theta: 10000, partial_rotary_factor: 0.5 } }, "rope_parameters.partial_rotary_factor 0.5"],
      [{ rope_theta: 10000, rope_parameters: { rope_theta: 500000 } }, "rope_theta is given twice"],
      [{ model_type: "mistral", sliding_window: 0 }, "sliding_window 0 is not a positive integer"],
      [{ model_type: "qwen2", use_sliding_window: true, layer_types: ["full_attention"] }, "layer_types"],
      [{ head_dim: 15 }, "head_dim 15 is odd"],
      [{ num_key_value_heads: 3 }, "num_key_value_heads 3 does not divide num_attention_heads 4"],
      [{ model_type: "gpt2" }, 'model_type "gpt2" is not supported'],
    ];
    const { folder, configPath } = await variant("refused", {});
    for (const [overrides, message] of cases) {
      await writeFile(configPath, JSON.stringify({ ...familyConfig(), ...overrides }));
      await expectInputError(exportOnnx(folder), configPath, message);
    }
    expect(existsSync(join(folder, "onnx"))).toBe(false);
  });

  it("through the CLI: exit 2, the message on stderr, and no onnx output left behind", async () => {
    const { folder, configPath } = await variant("cli-relu2", { hidden_act: "relu2" });
    const out = join(dir, "cli-relu2-out");
    const result = await runCli(["export-onnx", folder, out]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${configPath}: hidden_act "relu2" is not supported`);
    expect(existsSync(join(out, "onnx"))).toBe(false);
    expect(existsSync(join(folder, "onnx"))).toBe(false);
  }, 30_000);
});

describe("export-onnx progress and failure", () => {
  it("reports each phase's total and ticks that add up to it; the summary counts what was written", async () => {
    const { folder } = await variant("progress", {});
    const phases: { phase: ExportPhase; total: number; done: number; details: Set<string> }[] = [];
    const summary = await exportOnnx(folder, join(dir, "progress-out"), {
      onPhase: (phase, total) => phases.push({ phase, total, done: 0, details: new Set() }),
      onProgress: (bytes, detail) => {
        phases.at(-1)!.done += bytes;
        phases.at(-1)!.details.add(detail);
      },
    });
    expect(phases.map((p) => p.phase)).toEqual(["converting", "writing"]);
    for (const p of phases) expect(p.done).toBe(p.total);
    expect(phases[0]!.details.size).toBe(summary.tensors); // one tick per tensor
    expect(summary.tensors).toBe(1 + 4 * 9 + 2);
    expect(phases[1]!.total).toBe(summary.bytes);
    expect((await readFile(join(dir, "progress-out", "onnx", "model.onnx"))).byteLength).toBe(summary.bytes);
  });

  it("a failure while writing leaves no partial file and no onnx folder behind", async () => {
    const { folder } = await variant("write-fails", {});
    const out = join(dir, "write-fails-out");
    const failing = exportOnnx(folder, out, {
      onProgress: (_bytes, detail) => {
        if (detail.startsWith("onnx/")) throw new Error("disk full");
      },
    });
    await expect(failing).rejects.toThrow("disk full");
    expect(existsSync(join(out, "onnx"))).toBe(false);
    expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
  });

  it("the CLI prints one plain summary line off a terminal, and the warnings", async () => {
    const { folder } = await variant("cli-summary", { tie_word_embeddings: true });
    const result = await runCli(["export-onnx", folder, join(dir, "cli-summary-out")]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^exported 38 tensors \(\d+\.\d MB\) to .*cli-summary-out\/onnx\/model\.onnx in \d+\.\d s; 1 warning$/);
    expect(result.stderr).toContain("warning: ");
    expect(result.stderr).toContain("lm_head.weight");
    expect(result.stderr).not.toContain("\r"); // no progress bar off a terminal
  }, 30_000);
});
