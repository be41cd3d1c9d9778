import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAMILY, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { tinyTensors, writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { runMerge, type MergeOptions } from "../../src/merge/index.ts";
import { parseModelRef, resolveModelSource } from "../../src/merge/model-ref.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import { decodeToFloat32, type FloatDtype } from "../../src/merge/safetensors/dtype.ts";
import { saveCheckpoint, type TensorToSave } from "../../src/merge/safetensors/save.ts";
import { runCli } from "../run-cli.ts";

const F32: TinyModelShape = { vocab: 12, hidden: 8, intermediate: 10, layers: 2, dtype: "F32" };
const BF16: TinyModelShape = { ...F32, dtype: "BF16" };
const Q = "model.layers.1.self_attn.q_proj.weight"; // [8, 8]
const GATE = "model.layers.0.mlp.gate_proj.weight"; // [10, 8]
const EMBED = "model.embed_tokens.weight"; // [12, 8]
let root: string;

/** A deterministic matrix with values that are exact in bf16 (k/16), so F32 and BF16 adapters hold the same numbers. */
function matrix(rows: number, cols: number, seed: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => (((i * 7 + seed * 13) % 17) - 8) / 16);
}

interface AdapterTensor {
  name: string;
  shape: [number, number];
  values: Float32Array;
}

/** A PEFT adapter folder written by hand: adapter_config.json and adapter_model.safetensors. */
async function writeAdapter(dir: string, config: Record<string, unknown>, tensors: AdapterTensor[], dtype: FloatDtype = "F32"): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", task_type: "CAUSAL_LM", bias: "none", ...config }, null, 2));
  const toSave: TensorToSave[] = tensors.map((t) => ({ name: t.name, dtype, shape: t.shape, values: t.values }));
  await saveCheckpoint(join(dir, "tmp"), toSave);
  await rename(join(dir, "tmp", "model.safetensors"), join(dir, "adapter_model.safetensors"));
  await rm(join(dir, "tmp"), { recursive: true });
}

const key = (module: string, part: "lora_A" | "lora_B") => `base_model.model.${module}.${part}.weight`;
const linear = (tensor: string, r: number, out: number, inp: number, seed: number): AdapterTensor[] => [
  { name: key(tensor.replace(/\.weight$/, ""), "lora_A"), shape: [r, inp], values: matrix(r, inp, seed) },
  { name: key(tensor.replace(/\.weight$/, ""), "lora_B"), shape: [out, r], values: matrix(out, r, seed + 1) },
];

/** W + scale·B·A by hand (or (B·A)ᵀ when transposed), in double precision. */
function handMerged(w: Float32Array, shape: number[], a: Float32Array, b: Float32Array, r: number, scale: number, transposed: boolean): Float64Array {
  const [rows, cols] = shape as [number, number];
  const out = Float64Array.from(w);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let k = 0; k < r; k++) sum += transposed ? b[j * r + k]! * a[k * rows + i]! : b[i * r + k]! * a[k * cols + j]!;
      out[i * cols + j] = out[i * cols + j]! + scale * sum;
    }
  }
  return out;
}

async function read(dir: string, name: string): Promise<{ values: Float32Array; bytes: Uint8Array; shape: number[] }> {
  const checkpoint = await Checkpoint.open(dir);
  const entry = checkpoint.get(name)!;
  const bytes = new Uint8Array(entry.byteLength);
  await checkpoint.readInto(entry, bytes);
  await checkpoint.close();
  return { values: decodeToFloat32(bytes, entry.dtype as FloatDtype), bytes, shape: entry.shape };
}

const tinyTensor = (name: string, model: string, perturbation: number, shape: TinyModelShape) =>
  tinyTensors(model, perturbation, shape).find((t) => t.name === name)!.values;

let counter = 0;
async function merge(yaml: string, options: Partial<MergeOptions> = {}): Promise<string> {
  const name = `case-${++counter}`;
  const configFile = join(root, `${name}.yml`);
  await writeFile(configFile, yaml);
  const outDir = join(root, "out", name);
  await runMerge({ configFile, outDir, cwd: root, ...options });
  return outDir;
}

const alone = (ref: string) => `models:\n  - model: ${ref}\nmerge_method: passthrough\n`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-lora-"));
  await writeTinyModel(join(root, "base"), "base", 0, F32);
  await writeTinyModel(join(root, "other"), "other", 0.05, F32);
  await writeTinyModel(join(root, "base16"), "base", 0, BF16);
  // r = 2, lora_alpha = 4: scale 2. q_proj [8, 8] and gate_proj [10, 8] (out 10, in 8), plus an embedding LoRA.
  await writeAdapter(join(root, "adapter"), { r: 2, lora_alpha: 4, target_modules: ["q_proj", "gate_proj", "embed_tokens"], base_model_name_or_path: "acme/base" }, [
    ...linear(Q, 2, 8, 8, 1),
    ...linear(GATE, 2, 10, 8, 3),
    { name: "base_model.model.model.embed_tokens.lora_embedding_A", shape: [2, 12], values: matrix(2, 12, 5) },
    { name: "base_model.model.model.embed_tokens.lora_embedding_B", shape: [8, 2], values: matrix(8, 2, 6) },
  ]);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("LoRA references (model+adapter)", () => {
  it("parse as mergekit's ModelReference does: one '+', one '@' per part", () => {
    expect(parseModelRef("org/model")).toEqual({ model: { path: "org/model" } });
    expect(parseModelRef("user/model@v0.0.1+user/lora@main")).toEqual({ model: { path: "user/model", revision: "v0.0.1" }, lora: { path: "user/lora", revision: "main" } });
    expect(parseModelRef("base+adapter")).toEqual({ model: { path: "base" }, lora: { path: "adapter" } });
    expect(() => parseModelRef("a+b+c")).toThrow(/more than one "\+"/);
    expect(() => parseModelRef("a@1@2+b")).toThrow(/more than one "@" in the model/);
    expect(() => parseModelRef("a+b@1@2")).toThrow(/more than one "@" in the LoRA adapter/);
    expect(() => parseModelRef("a+")).toThrow(/the LoRA adapter is empty/);
  });

  it("W + (lora_alpha/r)·B·A, element by element against a hand computation (F32 base): linear and embedding LoRA", async () => {
    const out = await merge(alone("base+adapter"));
    const a = matrix(2, 8, 1);
    const b = matrix(8, 2, 2);
    const expected = handMerged(tinyTensor(Q, "base", 0, F32), [8, 8], a, b, 2, 2, false);
    const merged = await read(out, Q);
    expect(merged.values.length).toBe(64);
    merged.values.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(merged.values[0]).not.toBeCloseTo(tinyTensor(Q, "base", 0, F32)[0]!, 3); // the delta is not negligible

    // gate_proj: out 10, in 8.
    const gate = handMerged(tinyTensor(GATE, "base", 0, F32), [10, 8], matrix(2, 8, 3), matrix(10, 2, 4), 2, 2, false);
    (await read(out, GATE)).values.forEach((v, i) => expect(v).toBeCloseTo(gate[i]!, 6));
    // Embedding LoRA: PEFT adds (B·A)ᵀ, A is [r, vocab], B is [hidden, r].
    const embed = handMerged(tinyTensor(EMBED, "base", 0, F32), [12, 8], matrix(2, 12, 5), matrix(8, 2, 6), 2, 2, true);
    (await read(out, EMBED)).values.forEach((v, i) => expect(v).toBeCloseTo(embed[i]!, 6));
    // Tensors the adapter does not target are the base's, byte for byte.
    for (const name of ["model.layers.0.self_attn.q_proj.weight", "lm_head.weight", "model.norm.weight"]) {
      expect(Buffer.from((await read(out, name)).bytes).equals(Buffer.from((await read(join(root, "base"), name)).bytes))).toBe(true);
    }
  });

  it("a BF16 base: W + delta computed in float32, rounded once to bf16 (the bytes PEFT's merge would leave)", async () => {
    const out = await merge(alone("base16+adapter"));
    const base16 = (await read(join(root, "base16"), Q)).values;
    const exact = handMerged(base16, [8, 8], matrix(2, 8, 1), matrix(8, 2, 2), 2, 2, false);
    const merged = await read(out, Q);
    expect(merged.shape).toEqual([8, 8]);
    const ulp = (x: number) => 2 ** (Math.floor(Math.log2(Math.abs(x) || 1e-38)) - 7);
    merged.values.forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThanOrEqual(ulp(exact[i]!) / 2 + 1e-12));
    expect(merged.values.filter((v, i) => v !== base16[i]).length).toBeGreaterThan(32);
  });

  it("use_rslora: scale lora_alpha/√r; fan_in_fan_out: W holds (B·A)ᵀ", async () => {
    await writeAdapter(join(root, "rslora"), { r: 4, lora_alpha: 4, use_rslora: true }, linear(Q, 4, 8, 8, 7));
    const rs = handMerged(tinyTensor(Q, "base", 0, F32), [8, 8], matrix(4, 8, 7), matrix(8, 4, 8), 4, 4 / Math.sqrt(4), false);
    (await read(await merge(alone("base+rslora")), Q)).values.forEach((v, i) => expect(v).toBeCloseTo(rs[i]!, 6));

    // fan_in_fan_out (GPT-2's Conv1D stores [in, out]): gate_proj is [10, 8], so A is [r, 10] and B is [8, r].
    await writeAdapter(join(root, "fifo"), { r: 2, lora_alpha: 2, fan_in_fan_out: true }, [
      { name: key("model.layers.0.mlp.gate_proj", "lora_A"), shape: [2, 10], values: matrix(2, 10, 9) },
      { name: key("model.layers.0.mlp.gate_proj", "lora_B"), shape: [8, 2], values: matrix(8, 2, 10) },
    ]);
    const fifo = handMerged(tinyTensor(GATE, "base", 0, F32), [10, 8], matrix(2, 10, 9), matrix(8, 2, 10), 2, 1, true);
    (await read(await merge(alone("base+fifo")), GATE)).values.forEach((v, i) => expect(v).toBeCloseTo(fifo[i]!, 6));
  });

  it("the model and the model+adapter in one recipe stay apart: task_arithmetic of base+adapter over base gives the patched weights", async () => {
    const out = await merge(`models:\n  - {model: base+adapter, parameters: {weight: 1}}\nmerge_method: task_arithmetic\nbase_model: base\n`);
    const patched = await merge(alone("base+adapter"));
    for (const name of [Q, GATE, EMBED, "model.layers.0.self_attn.q_proj.weight"]) {
      const [x, y] = [(await read(out, name)).values, (await read(patched, name)).values];
      x.forEach((v, i) => expect(v).toBeCloseTo(y[i]!, 6));
    }
  });

  it("worker threads apply the adapter too (the patch travels with the tensor entry): same bytes as one thread", async () => {
    const yaml = `models:\n  - {model: base+adapter, parameters: {weight: 0.5}}\n  - {model: other, parameters: {weight: 0.5}}\nmerge_method: linear\n`;
    const one = await readFile(join(await merge(yaml, { threads: 1 }), "model.safetensors"));
    const two = await readFile(join(await merge(yaml, { threads: 2, parallelMinBytes: 0, overlapBytes: 0 }), "model.safetensors"));
    expect(one.equals(two)).toBe(true);
  });

  it("mergeval merge base+adapter with another model, through the CLI; --dry-run shows the adapter", async () => {
    const configFile = join(root, "cli.yml");
    await writeFile(configFile, `models:\n  - {model: base+adapter, parameters: {weight: 0.5}}\n  - {model: other, parameters: {weight: 0.5}}\nmerge_method: linear\ndtype: float32\n`);
    const dry = await runCli(["merge", configFile, join(root, "out", "cli-dry"), "--dry-run"], { cwd: root });
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `model "base+adapter": LoRA adapter ${join(root, "adapter")} (r 2, lora_alpha 4, scale lora_alpha/r = 2) added to 3 tensors of ${join(root, "base")} as they are read; trained on acme/base`,
    );
    expect(existsSync(join(root, "out", "cli-dry"))).toBe(false);

    const result = await runCli(["merge", configFile, join(root, "out", "cli"), "-q"], { cwd: root });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const patched = handMerged(tinyTensor(Q, "base", 0, F32), [8, 8], matrix(2, 8, 1), matrix(8, 2, 2), 2, 2, false);
    const other = tinyTensor(Q, "other", 0.05, F32);
    (await read(join(root, "out", "cli"), Q)).values.forEach((v, i) => expect(v).toBeCloseTo(0.5 * patched[i]! + 0.5 * other[i]!, 6));
    // config.json and the tokenizer come from the model's folder (the adapter has neither).
    expect(JSON.parse(await readFile(join(root, "out", "cli", "config.json"), "utf8"))).toMatchObject({ num_hidden_layers: 2, hidden_size: 8 });
    expect(existsSync(join(root, "out", "cli", "tokenizer_config.json"))).toBe(true);
    expect(await readFile(join(root, "out", "cli", "README.md"), "utf8")).toContain("- base+adapter");
  });

  it("org/name+org/adapter resolve through the Hugging Face cache, as models do", async () => {
    const hub = join(root, "hub");
    const snapshot = async (id: string, from: string) => {
      const repo = join(hub, `models--${id.replace("/", "--")}`);
      await mkdir(join(repo, "refs"), { recursive: true });
      await writeFile(join(repo, "refs", "main"), "c0ffee\n");
      await mkdir(join(repo, "snapshots"), { recursive: true });
      await rename(from, join(repo, "snapshots", "c0ffee"));
      return join(repo, "snapshots", "c0ffee");
    };
    await writeTinyModel(join(root, "hf-base"), "base", 0, F32);
    await writeAdapter(join(root, "hf-adapter"), { r: 2, lora_alpha: 4 }, linear(Q, 2, 8, 8, 1));
    const baseDir = await snapshot("acme/tiny", join(root, "hf-base"));
    const adapterDir = await snapshot("acme/tiny-lora", join(root, "hf-adapter"));
    const env = { ...process.env, HF_HUB_CACHE: hub };
    expect(resolveModelSource("acme/tiny+acme/tiny-lora", "/nonexistent", env)).toEqual({ dir: baseDir, adapter: { ref: "acme/tiny-lora", dir: adapterDir } });
    expect(() => resolveModelSource("acme/tiny+acme/missing", "/nonexistent", env)).toThrow(/LoRA adapter "acme\/missing" of model "acme\/tiny\+acme\/missing": no folder .* Hugging Face cache/);

    const configFile = join(root, "hf.yml");
    await writeFile(configFile, alone("acme/tiny+acme/tiny-lora"));
    const result = await runCli(["merge", configFile, join(root, "out", "hf"), "-q"], { cwd: root, env });
    expect(result.stderr).toBe("");
    const expected = handMerged(tinyTensor(Q, "base", 0, F32), [8, 8], matrix(2, 8, 1), matrix(8, 2, 2), 2, 2, false);
    (await read(join(root, "out", "hf"), Q)).values.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  it("the fixture family's safety-lora (written by `mergeval fixtures`) turns the base into the safety expert, norms aside", async () => {
    const family = join(root, "family");
    await writeFixtureFamily(family, FAMILY.filter((m) => ["base", "safety"].includes(m.name)));
    const config = JSON.parse(await readFile(join(family, "safety-lora", "adapter_config.json"), "utf8")) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: "LORA", r: 2, lora_alpha: 2, base_model_name_or_path: "base" });
    const out = await merge(alone(`${join(family, "base")}+${join(family, "safety-lora")}`));
    for (const name of ["model.embed_tokens.weight", "model.layers.2.self_attn.k_proj.weight", "model.layers.3.mlp.down_proj.weight", "lm_head.weight"]) {
      const [got, safety, base] = await Promise.all(["out", "safety", "base"].map(async (m) => (await read(m === "out" ? out : join(family, m), name)).values));
      // bf16(bf16(W) + Δ) against bf16(W + Δ): half a step of W's rounding plus half a step of each result's.
      const step = (x: number) => 2 ** (Math.floor(Math.log2(x || 1e-38)) - 7);
      got!.forEach((v, i) => expect(Math.abs(v - safety![i]!)).toBeLessThanOrEqual(step(Math.max(Math.abs(v), Math.abs(safety![i]!), Math.abs(base![i]!))) + 1e-9));
    }
    const norm = "model.layers.0.input_layernorm.weight";
    expect(Buffer.from((await read(out, norm)).bytes).equals(Buffer.from((await read(join(family, "base"), norm)).bytes))).toBe(true);
  });

  describe("adapter features mergeval does not apply are refused, naming the file and the field", () => {
    const refused = async (name: string, config: Record<string, unknown>, tensors: AdapterTensor[], message: RegExp, model = "base") => {
      await writeAdapter(join(root, name), { r: 2, lora_alpha: 4, ...config }, tensors);
      await expect(merge(alone(`${model}+${name}`))).rejects.toThrow(message);
    };
    const cfg = (name: string) => join(root, name, "adapter_config.json").replace(/[.+]/g, "\\$&");
    const st = (name: string) => join(root, name, "adapter_model.safetensors").replace(/[.+]/g, "\\$&");

    it("DoRA (use_dora), modules_to_save, alpha_pattern, another PEFT type, lora_bias", async () => {
      await refused("dora", { use_dora: true }, linear(Q, 2, 8, 8, 1), new RegExp(`^${cfg("dora")}: use_dora: DoRA adapters .* are not supported`));
      await refused("mts", { modules_to_save: ["lm_head"] }, linear(Q, 2, 8, 8, 1), new RegExp(`^${cfg("mts")}: modules_to_save: .*\\(got \\["lm_head"\\]\\)`));
      await refused("alpha", { alpha_pattern: { q_proj: 8 } }, linear(Q, 2, 8, 8, 1), new RegExp(`^${cfg("alpha")}: alpha_pattern: per-module lora_alpha`));
      await refused("loha", { peft_type: "LOHA" }, linear(Q, 2, 8, 8, 1), new RegExp(`^${cfg("loha")}: peft_type: "LOHA" is not LORA`));
      await refused("bias", { lora_bias: true }, linear(Q, 2, 8, 8, 1), new RegExp(`^${cfg("bias")}: lora_bias: `));
    });

    it("tensors that are not LoRA pairs: a DoRA magnitude, a trained bias, a missing lora_B, a conv LoRA", async () => {
      const magnitude = { name: "base_model.model.model.layers.1.self_attn.q_proj.lora_magnitude_vector", shape: [8, 1] as [number, number], values: matrix(8, 1, 1) };
      await refused("magnitude", {}, [...linear(Q, 2, 8, 8, 1), magnitude], new RegExp(`^${st("magnitude")}: tensor ".*lora_magnitude_vector": a DoRA magnitude vector`));
      const bias = { name: "base_model.model.model.layers.1.self_attn.q_proj.bias", shape: [1, 8] as [number, number], values: matrix(1, 8, 1) };
      await refused("trained-bias", { bias: "all" }, [...linear(Q, 2, 8, 8, 1), bias], new RegExp(`^${st("trained-bias")}: tensor ".*q_proj\\.bias": a whole trained weight .* \\(bias: all in adapter_config\\.json\\)`));
      await refused("half", {}, linear(Q, 2, 8, 8, 1).slice(0, 1), /"base_model\.model\.model\.layers\.1\.self_attn\.q_proj\.lora_B\.weight" is missing \(its pair lora_A\.weight is there\)/);
    });

    it("a target the model lacks, a shape that does not fit, a rank that contradicts r", async () => {
      await refused("typo", {}, linear("model.layers.1.self_attn.qproj.weight", 2, 8, 8, 1), /targets tensor "model\.layers\.1\.self_attn\.qproj\.weight", which model "base\+typo" .* does not have — did you mean "model\.layers\.1\.self_attn\.q_proj\.weight"\?/);
      await refused("shape", {}, linear(GATE, 2, 8, 10, 1), /"model\.layers\.0\.mlp\.gate_proj\.weight" is \[10, 8\] in model "base\+shape" but the adapter's B·A is \[8, 10\] \(that is the transpose: check fan_in_fan_out, false in adapter_config\.json\)/);
      await refused("rank", { r: 4 }, linear(Q, 2, 8, 8, 1), /has rank 2 \(lora_A's rows\) but adapter_config\.json says r: 4 and has no rank_pattern/);
    });

    it("a folder that is no PEFT adapter, or holds only adapter_model.bin", async () => {
      await expect(merge(alone("base+other"))).rejects.toThrow(/LoRA adapter "other": no adapter_config\.json in .*other \(found: .*config\.json.*\)/);
      await mkdir(join(root, "pickled"), { recursive: true });
      await writeFile(join(root, "pickled", "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 2, lora_alpha: 4 }));
      await writeFile(join(root, "pickled", "adapter_model.bin"), "not read");
      await expect(merge(alone("base+pickled"))).rejects.toThrow(/no adapter_model\.safetensors .* \(adapter_model\.bin is a pickle: only safetensors adapters are read\)/);
      await expect(merge(alone("base+nowhere"))).rejects.toThrow(/LoRA adapter "nowhere" of model "base\+nowhere": no folder at/);
    });

    it("rank_pattern is honoured through each module's own rank (A's rows): scale lora_alpha over that rank", async () => {
      await writeAdapter(join(root, "ranks"), { r: 2, lora_alpha: 4, rank_pattern: { gate_proj: 4 } }, [...linear(Q, 2, 8, 8, 1), ...linear(GATE, 4, 10, 8, 3)]);
      const out = await merge(alone("base+ranks"));
      const gate = handMerged(tinyTensor(GATE, "base", 0, F32), [10, 8], matrix(4, 8, 3), matrix(10, 4, 4), 4, 1, false);
      (await read(out, GATE)).values.forEach((v, i) => expect(v).toBeCloseTo(gate[i]!, 6));
    });
  });
});
