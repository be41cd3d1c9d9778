import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyTensors, writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { runMerge, type MergeOptions } from "../../src/merge/index.ts";
import { resolveModelRef } from "../../src/merge/model-ref.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import { decodeToFloat32, type FloatDtype } from "../../src/merge/safetensors/dtype.ts";

const SHAPE: TinyModelShape = { vocab: 24, hidden: 16, intermediate: 20, layers: 4, dtype: "BF16" };
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-merge-"));
  await writeTinyModel(join(root, "base"), "base", 0, SHAPE);
  await writeTinyModel(join(root, "general"), "general", 0.02, SHAPE);
  await writeTinyModel(join(root, "safety"), "safety", 0.03, SHAPE);
  await writeTinyModel(join(root, "far"), "far", 1, SHAPE); // far from the base: slerp takes the spherical path
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function merge(yaml: string, options: Partial<MergeOptions> = {}): Promise<string> {
  const name = `case-${++counter}`;
  const configFile = join(root, `${name}.yml`);
  await writeFile(configFile, yaml);
  const outDir = join(root, "out", name);
  await runMerge({ configFile, outDir, cwd: root, ...options });
  return outDir;
}

async function readAll(dir: string): Promise<Map<string, { dtype: string; shape: number[]; values: Float32Array; bytes: Uint8Array }>> {
  const checkpoint = await Checkpoint.open(dir);
  const out = new Map<string, { dtype: string; shape: number[]; values: Float32Array; bytes: Uint8Array }>();
  for (const [name, entry] of checkpoint.tensors) {
    const bytes = new Uint8Array(entry.byteLength);
    await checkpoint.readInto(entry, bytes);
    out.set(name, { dtype: entry.dtype, shape: entry.shape, values: decodeToFloat32(bytes, entry.dtype as FloatDtype), bytes });
  }
  await checkpoint.close();
  return out;
}

const bf16Ulp = (x: number) => 2 ** (Math.floor(Math.log2(Math.abs(x) || 1e-38)) - 7);

describe("merge end to end (tiny checkpoints)", () => {
  it("linear with weights 1/0 reproduces the first model byte for byte", async () => {
    const out = await merge(`models:
  - {model: general, parameters: {weight: 1}}
  - {model: safety, parameters: {weight: 0}}
merge_method: linear
`);
    const [merged, general] = [await readAll(out), await readAll(join(root, "general"))];
    expect([...merged.keys()].sort()).toEqual([...general.keys()].sort());
    for (const [name, t] of general) expect(Buffer.from(merged.get(name)!.bytes).equals(Buffer.from(t.bytes))).toBe(true);
  });

  it("bf16 in, bf16 out: within half a bf16 ulp of the exact float result", async () => {
    const out = await merge(`models:
  - {model: general, parameters: {weight: 0.3}}
  - {model: safety, parameters: {weight: 0.7}}
merge_method: linear
`);
    const [merged, a, b] = [await readAll(out), await readAll(join(root, "general")), await readAll(join(root, "safety"))];
    for (const [name, t] of merged) {
      expect(t.dtype).toBe("BF16");
      const x = a.get(name)!.values;
      const y = b.get(name)!.values;
      t.values.forEach((v, i) => {
        const exact = 0.3 * x[i]! + 0.7 * y[i]!;
        expect(Math.abs(v - exact)).toBeLessThanOrEqual(bf16Ulp(exact) / 2 + 1e-12);
      });
    }
  });

  it("slerp gradient [0, 1]: layer 0 and non-layer weights are the base, the last layer is the other model", async () => {
    const out = await merge(`slices:
  - sources:
      - {model: base, layer_range: [0, 4]}
      - {model: far, layer_range: [0, 4]}
merge_method: slerp
base_model: base
parameters:
  t: [0, 1]
`);
    const [merged, base, far] = [await readAll(out), await readAll(join(root, "base")), await readAll(join(root, "far"))];
    const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Math.abs(v - b[i]!) <= bf16Ulp(b[i]!));
    for (const name of ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.layers.0.mlp.up_proj.weight"]) {
      expect(same(merged.get(name)!.values, base.get(name)!.values), name).toBe(true);
    }
    expect(same(merged.get("model.layers.3.mlp.up_proj.weight")!.values, far.get("model.layers.3.mlp.up_proj.weight")!.values)).toBe(true);
    const mid = merged.get("model.layers.1.mlp.up_proj.weight")!.values;
    expect(same(mid, base.get("model.layers.1.mlp.up_proj.weight")!.values)).toBe(false);
  });

  it("DARE-TIES: the same seed gives identical bytes, another seed does not", async () => {
    const yaml = `models:
  - {model: general, parameters: {weight: 0.5, density: 0.5}}
  - {model: safety, parameters: {weight: 0.5, density: 0.5}}
merge_method: dare_ties
base_model: base
dtype: float32
`;
    const read = async (dir: string) => readFile(join(dir, "model.safetensors"));
    const a = await read(await merge(yaml, { seed: 7 }));
    const b = await read(await merge(yaml, { seed: 7 }));
    const c = await read(await merge(yaml, { seed: 8 }));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it("worker threads give the same bytes as one thread (DARE-TIES, so the random masks too)", async () => {
    const yaml = `models:
  - {model: general, parameters: {weight: 0.6, density: 0.5}}
  - {model: safety, parameters: {weight: 0.4, density: 0.7}}
merge_method: dare_ties
base_model: base
`;
    const one = await readFile(join(await merge(yaml, { seed: 5, threads: 1 }), "model.safetensors"));
    const two = await readFile(join(await merge(yaml, { seed: 5, threads: 2, parallelMinBytes: 0, overlapBytes: 0 }), "model.safetensors"));
    expect(two.equals(one)).toBe(true);
  });

  it("an input error inside a worker surfaces as an input error and leaves no output", async () => {
    const broken = join(root, "broken");
    const { saveCheckpoint } = await import("../../src/merge/safetensors/save.ts");
    await saveCheckpoint(
      broken,
      tinyTensors("broken", 0.02, SHAPE).map((t) => (t.name === "model.layers.2.mlp.up_proj.weight" ? { ...t, values: t.values.map((v, i) => (i === 3 ? NaN : v)) } : t)),
    );
    const configFile = join(root, "broken.yml");
    await writeFile(configFile, "models:\n  - {model: general, parameters: {weight: 1}}\n  - {model: broken, parameters: {weight: 1}}\nmerge_method: linear\n");
    const outDir = join(root, "out", "broken");
    await expect(runMerge({ configFile, outDir, cwd: root, threads: 2, parallelMinBytes: 0 })).rejects.toThrow(
      /broken\/model\.safetensors: tensor "model\.layers\.2\.mlp\.up_proj\.weight" .* holds NaN at index 3/,
    );
    expect(existsSync(outDir)).toBe(false);
    expect(readdirSync(join(root, "out")).filter((f) => f.startsWith(".broken"))).toEqual([]);
  });

  it("shards by bytes and writes an index; the sharded merge equals the single-file one", async () => {
    const yaml = `models:
  - {model: general, parameters: {weight: 1, density: 0.5}}
  - {model: safety, parameters: {weight: 1, density: 0.5}}
merge_method: ties
base_model: base
`;
    const single = await merge(yaml);
    const sharded = await merge(yaml, { outShardSize: 4000 });
    const files = readdirSync(sharded).filter((f) => f.endsWith(".safetensors"));
    expect(files.length).toBeGreaterThan(1);
    expect(files[0]).toMatch(/^model-00001-of-\d{5}\.safetensors$/);
    const index = JSON.parse(await readFile(join(sharded, "model.safetensors.index.json"), "utf8"));
    const a = await readAll(single);
    const b = await readAll(sharded);
    expect(index.metadata.total_size).toBe([...b.values()].reduce((s, t) => s + t.bytes.byteLength, 0));
    expect(Object.keys(index.weight_map).sort()).toEqual([...a.keys()].sort());
    for (const [name, t] of a) expect(Buffer.from(b.get(name)!.bytes).equals(Buffer.from(t.bytes))).toBe(true);
    expect(existsSync(join(single, "model.safetensors.index.json"))).toBe(false);
  });

  it("writes a Hugging Face folder: config with torch_dtype, tokenizer files, card, verbatim recipe", async () => {
    const yaml = `# a comment kept verbatim
models:
  - {model: general, parameters: {weight: 0.5}}
  - {model: safety, parameters: {weight: 0.5}}
merge_method: task_arithmetic
base_model: base
out_dtype: float16
`;
    const out = await merge(yaml);
    const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
    expect(config.torch_dtype).toBe("float16");
    expect(config.num_hidden_layers).toBe(4);
    expect(existsSync(join(out, "tokenizer_config.json"))).toBe(true);
    expect(await readFile(join(out, "mergekit_config.yml"), "utf8")).toBe(yaml);
    const card = await readFile(join(out, "README.md"), "utf8");
    expect(card).toMatch(/^---\nbase_model:\n- base\n- general\n- safety\n/);
    expect(card).toContain("[Task Arithmetic](https://arxiv.org/abs/2212.04089) merge method using base as a base");
    const merged = await readAll(out);
    expect([...merged.values()].every((t) => t.dtype === "F16")).toBe(true);
  });

  it("slices with layer_range stack layers (passthrough frankenmerge) and renumber them", async () => {
    const out = await merge(`slices:
  - sources: [{model: general, layer_range: [0, 2]}]
  - sources: [{model: safety, layer_range: [1, 4]}]
merge_method: passthrough
`);
    const merged = await readAll(out);
    const safety = await readAll(join(root, "safety"));
    const general = await readAll(join(root, "general"));
    const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
    expect(config.num_hidden_layers).toBe(5);
    expect(merged.has("model.layers.4.mlp.up_proj.weight")).toBe(true);
    expect(merged.has("model.layers.5.mlp.up_proj.weight")).toBe(false);
    const eq = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    expect(eq(merged.get("model.layers.2.mlp.up_proj.weight")!.bytes, safety.get("model.layers.1.mlp.up_proj.weight")!.bytes)).toBe(true);
    expect(eq(merged.get("model.layers.1.mlp.up_proj.weight")!.bytes, general.get("model.layers.1.mlp.up_proj.weight")!.bytes)).toBe(true);
    // pre-weights from the first slice, post-weights from the last
    expect(eq(merged.get("model.embed_tokens.weight")!.bytes, general.get("model.embed_tokens.weight")!.bytes)).toBe(true);
    expect(eq(merged.get("lm_head.weight")!.bytes, safety.get("lm_head.weight")!.bytes)).toBe(true);
  });

  it("cuts embeddings of a larger vocabulary to the common sub-matrix", async () => {
    const big: TinyModelShape = { ...SHAPE, vocab: 30 };
    await writeTinyModel(join(root, "bigvocab"), "bigvocab", 0.02, big);
    const out = await merge(`models:
  - {model: general, parameters: {weight: 0.5}}
  - {model: bigvocab, parameters: {weight: 0.5}}
merge_method: linear
`);
    const merged = await readAll(out);
    expect(merged.get("model.embed_tokens.weight")!.shape).toEqual([24, 16]);
    const expected = tinyTensors("bigvocab", 0.02, big).find((t) => t.name === "lm_head.weight")!.values;
    const gen = tinyTensors("general", 0.02, SHAPE).find((t) => t.name === "lm_head.weight")!.values;
    const v = merged.get("lm_head.weight")!.values;
    // row 23, col 15 of a [30,16] matrix vs a [24,16] one
    expect(v[23 * 16 + 15]).toBeCloseTo(0.5 * expected[23 * 16 + 15]! + 0.5 * gen[23 * 16 + 15]!, 2);
  });

  it("a tied lm_head falls back to embed_tokens; no lm_head anywhere means none written", async () => {
    const tied = join(root, "tied");
    const { saveCheckpoint } = await import("../../src/merge/safetensors/save.ts");
    await saveCheckpoint(tied, tinyTensors("tied", 0.02, SHAPE).filter((t) => t.name !== "lm_head.weight"));
    const out = await merge(`models:
  - {model: general, parameters: {weight: 0.5}}
  - {model: tied, parameters: {weight: 0.5}}
merge_method: linear
`);
    const merged = await readAll(out);
    const embed = tinyTensors("tied", 0.02, SHAPE).find((t) => t.name === "model.embed_tokens.weight")!.values;
    const head = tinyTensors("general", 0.02, SHAPE).find((t) => t.name === "lm_head.weight")!.values;
    expect(merged.get("lm_head.weight")!.values[5]).toBeCloseTo(0.5 * embed[5]! + 0.5 * head[5]!, 2);
    const out2 = await merge(`models:
  - {model: tied, parameters: {weight: 1}}
merge_method: linear
`);
    expect((await readAll(out2)).has("lm_head.weight")).toBe(false);
  });
});

describe("dry runs and leftovers", () => {
  it("--dry-run validates against the headers and writes nothing", async () => {
    const configFile = join(root, "dry.yml");
    await writeFile(configFile, "models:\n  - {model: general, parameters: {weight: 1, density: 0.5}}\nmerge_method: ties\nbase_model: base\n");
    const outDir = join(root, "out", "dry");
    const summary = await runMerge({ configFile, outDir, cwd: root, dryRun: true });
    expect(summary.tensors).toBe(39);
    expect(existsSync(outDir)).toBe(false);
    await writeFile(configFile, "models:\n  - {model: general, parameters: {weight: 1, density: 0}}\nmerge_method: ties\nbase_model: base\n");
    await expect(runMerge({ configFile, outDir, cwd: root, dryRun: true })).rejects.toThrow(/density must be > 0/);
  });

  it("removes staging folders abandoned by killed merges of the same output", async () => {
    const parent = join(root, "out");
    await mkdir(join(parent, ".abandoned.partial-999999999-1"), { recursive: true });
    await mkdir(join(parent, `.abandoned.partial-${process.pid}-1`), { recursive: true }); // a live process's
    await mkdir(join(parent, ".other.partial-999999999-1"), { recursive: true }); // another output's
    const configFile = join(root, "abandoned.yml");
    await writeFile(configFile, "models:\n  - {model: general, parameters: {weight: 1}}\nmerge_method: linear\n");
    await runMerge({ configFile, outDir: join(parent, "abandoned"), cwd: root });
    const left = readdirSync(parent).filter((f) => f.includes(".partial-")).sort();
    expect(left).toEqual([`.abandoned.partial-${process.pid}-1`, ".other.partial-999999999-1"]);
  });
});

describe("model references", () => {
  it("resolves org/name[@revision] through the local Hugging Face cache", async () => {
    const hub = join(root, "hf", "hub");
    const repo = join(hub, "models--acme--tiny");
    await mkdir(join(repo, "snapshots", "abc123"), { recursive: true });
    await mkdir(join(repo, "snapshots", "def456"), { recursive: true });
    await mkdir(join(repo, "refs"), { recursive: true });
    await writeFile(join(repo, "refs", "main"), "abc123\n");
    const env = { HF_HOME: join(root, "hf") };
    expect(resolveModelRef("acme/tiny", "/nonexistent", env)).toBe(join(repo, "snapshots", "abc123"));
    expect(resolveModelRef("acme/tiny@def456", "/nonexistent", env)).toBe(join(repo, "snapshots", "def456"));
    expect(() => resolveModelRef("acme/other", "/nonexistent", env)).toThrow(/no folder .* Hugging Face cache/);
    expect(() => resolveModelRef("a+lora", "/nonexistent", env)).toThrow(/LoRA/);
  });

  it("a folder that is not there: a close name beside it is suggested as written, a far one is not", async () => {
    await mkdir(join(root, "typos", "models", "general"), { recursive: true });
    const cwd = join(root, "typos");
    expect(() => resolveModelRef("models/genral", cwd, {})).toThrow(/no folder at .*models\/genral .* — did you mean "models\/general"\?$/);
    expect(() => resolveModelRef("models/safety", cwd, {})).toThrow(/never downloads models: fetch them first, e\.g\. with `huggingface-cli download`\)$/);
    expect(() => resolveModelRef("nowhere/general", cwd, {})).toThrow(/huggingface-cli download`\)$/);
  });
});
