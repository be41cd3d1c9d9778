import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BYTE_VOCAB_SIZE, byteTokenId } from "../../src/fixtures/byte-tokenizer.ts";
import { FAMILY, FAMILY_SHAPE, familyTensors, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { isEmbedding } from "../../src/merge/architecture.ts";
import { runMerge, type MergeSummary } from "../../src/merge/index.ts";
import { seededRng } from "../../src/merge/rng.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import { decodeToFloat32, type FloatDtype } from "../../src/merge/safetensors/dtype.ts";
import { saveCheckpoint } from "../../src/merge/safetensors/save.ts";
import { expectInputError } from "../expect-input-error.ts";
import { runCli } from "../run-cli.ts";

/**
 * Tokenizer merges (mergekit's tokenizer_source / tokenizer:) on the fixture family: "general" and "safety" each
 * gain added tokens (and embedding rows for them), different ones, so their vocabularies differ from the base's
 * and from each other's:
 *   base     262 tokens (byte-level: 6 specials + 256 bytes)
 *   general  + <|tool|> (262), <|im_end|> (263)
 *   safety   + <|im_start|> (262), <|im_end|> (263)
 * The union is the base's 262, then <|tool|> 262, <|im_end|> 263 (general's), <|im_start|> 264 (safety's).
 */

const H = FAMILY_SHAPE.hidden;
const EMBED = "model.embed_tokens.weight";
const HEAD = "lm_head.weight";
let root: string;

/** Adds special tokens to a fixture model's tokenizer.json and seeded rows for them to its embedding and head. */
async function addTokens(name: string, tokens: string[], options: { rows?: boolean; vocabSize?: number } = {}): Promise<void> {
  const dir = join(root, name);
  const member = FAMILY.find((m) => m.name === name) ?? FAMILY[0]!;
  const tokenizer = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as { added_tokens: unknown[] };
  tokens.forEach((content, i) =>
    tokenizer.added_tokens.push({ id: BYTE_VOCAB_SIZE + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }),
  );
  await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizer, null, 2));
  if (options.rows === false) return;
  const tensors = familyTensors(member).map((t) => {
    if (!isEmbedding(t.name)) return t;
    const grown = new Float32Array((BYTE_VOCAB_SIZE + tokens.length) * H);
    grown.set(t.values);
    const rng = seededRng("added-rows", name, t.name);
    for (let i = t.values.length; i < grown.length; i++) grown[i] = (rng.next() - 0.5) * 0.5;
    return { ...t, shape: [BYTE_VOCAB_SIZE + tokens.length, H], values: grown };
  });
  await saveCheckpoint(dir, tensors);
  const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  config.vocab_size = options.vocabSize ?? BYTE_VOCAB_SIZE + tokens.length;
  await writeFile(join(dir, "config.json"), JSON.stringify(config, null, 2));
}

/** A checkpoint's matrix as float32 rows. */
async function matrix(dir: string, name: string): Promise<{ row: (i: number) => Float32Array; rows: number; dtype: string }> {
  const checkpoint = await Checkpoint.open(dir);
  const entry = checkpoint.get(name)!;
  const bytes = new Uint8Array(entry.byteLength);
  await checkpoint.readInto(entry, bytes);
  await checkpoint.close();
  const values = decodeToFloat32(bytes, entry.dtype as FloatDtype);
  const cols = entry.shape[1]!;
  return { row: (i) => values.slice(i * cols, (i + 1) * cols), rows: entry.shape[0]!, dtype: entry.dtype };
}

/** float64 → bf16 → float, as the merge's output is stored (round to float32 first, then to bf16, nearest even). */
function bf16(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer);
  bits[0] = (((bits[0]! + 0x7fff + ((bits[0]! >>> 16) & 1)) >>> 16) << 16) >>> 0;
  return f[0]!;
}
const bf16Row = (row: ArrayLike<number>) => Float32Array.from(row, bf16);

/** mergekit's mean of rows in bf16: summed one model at a time, each sum rounded, then divided and rounded. */
function bf16Mean(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows[0]!.length);
  for (const row of rows) for (let j = 0; j < out.length; j++) out[j] = bf16(out[j]! + row[j]!);
  for (let j = 0; j < out.length; j++) out[j] = bf16(out[j]! / rows.length);
  return out;
}

/** The linear merge of rows (Σ w·r / Σ w), stored in bf16. */
function linear(rows: Float32Array[], weights: number[]): Float32Array {
  const total = weights.reduce((a, b) => a + b, 0);
  return Float32Array.from(rows[0]!, (_, j) => bf16(rows.reduce((sum, r, i) => sum + weights[i]! * r[j]!, 0) / total));
}

/** Equal up to one bf16 rounding step (the merge sums in another order than this hand computation). */
function expectRow(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let j = 0; j < expected.length; j++) expect(Math.abs(actual[j]! - expected[j]!)).toBeLessThanOrEqual(Math.abs(expected[j]!) * 2 ** -7 + 1e-7);
}

let counter = 0;
async function merge(yaml: string, options: { dryRun?: boolean } = {}): Promise<{ out: string; summary: MergeSummary }> {
  const name = `case-${++counter}`;
  const configFile = join(root, `${name}.yml`);
  await writeFile(configFile, yaml);
  const out = join(root, "out", name);
  const summary = await runMerge({ configFile, outDir: out, cwd: root, ...options });
  return { out, summary };
}

const WEIGHTS = { base: 0.2, general: 0.3, safety: 0.5 };
const linearRecipe = (tokenizer: string) =>
  `models:\n${Object.entries(WEIGHTS).map(([m, w]) => `  - {model: ${m}, parameters: {weight: ${w}}}`).join("\n")}\nmerge_method: linear\nbase_model: base\n${tokenizer}`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-tokenizer-"));
  await writeFixtureFamily(root, FAMILY.filter((m) => ["base", "general", "safety"].includes(m.name)));
  await addTokens("general", ["<|tool|>", "<|im_end|>"]);
  await addTokens("safety", ["<|im_start|>", "<|im_end|>"]);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The three models' embedding (or head) rows. */
async function inputs(name: string) {
  return { B: await matrix(join(root, "base"), name), G: await matrix(join(root, "general"), name), S: await matrix(join(root, "safety"), name) };
}

describe("tokenizer_source: union through the CLI, then ONNX export and generation", () => {
  it("merges, writes a loadable union tokenizer, re-maps rows by mergekit's rules, exports and generates", async () => {
    const recipe = join(root, "union-cli.yml");
    await writeFile(recipe, linearRecipe("tokenizer_source: union\nchat_template: chatml\n"));
    const out = join(root, "out", "union-cli");
    const merged = await runCli(["merge", recipe, out], { cwd: root });
    expect(merged.stderr).toBe("");
    expect(merged.code).toBe(0);

    // The vocabulary: the base's 262, then general's <|tool|> and <|im_end|>, then safety's <|im_start|>.
    const config = JSON.parse(await readFile(join(out, "config.json"), "utf8")) as { vocab_size: number };
    expect(config.vocab_size).toBe(265);
    env.allowRemoteModels = false;
    env.localModelPath = "/";
    const tokenizer = await AutoTokenizer.from_pretrained(out, { local_files_only: true });
    expect(tokenizer.encode("<|tool|><|im_end|><|im_start|>", { add_special_tokens: false })).toEqual([262, 263, 264]);
    expect(tokenizer.encode("hé", { add_special_tokens: false })).toEqual([byteTokenId(0x68), byteTokenId(0xc3), byteTokenId(0xa9)]);
    expect(tokenizer.decode([264, byteTokenId(0x68), 263])).toBe("<|im_start|>h<|im_end|>");
    const tokenizerConfig = JSON.parse(await readFile(join(out, "tokenizer_config.json"), "utf8")) as { added_tokens_decoder: Record<string, { content: string }>; eos_token: string };
    expect(Object.keys(tokenizerConfig.added_tokens_decoder)).toEqual(["0", "1", "2", "3", "4", "5", "262", "263", "264"]);
    expect(tokenizerConfig.eos_token).toBe("</s>");

    // Rows, by hand, for the embedding and the head.
    for (const name of [EMBED, HEAD]) {
      const { B, G, S } = await inputs(name);
      const M = await matrix(out, name);
      expect(M.rows).toBe(265);
      const w = [WEIGHTS.base, WEIGHTS.general, WEIGHTS.safety];
      // A byte token every model has: each model's own row.
      const byte = byteTokenId(0x68);
      expectRow(M.row(byte), linear([B.row(byte), G.row(byte), S.row(byte)], w));
      // <|tool|>: only general has it, so the base and safety take general's row (the only holder's).
      expectRow(M.row(262), linear([G.row(262), G.row(262), G.row(262)], w));
      expectRow(M.row(262), bf16Row(G.row(262)));
      // <|im_end|>: general and safety have it, the base does not: the base takes their mean (computed in bf16).
      const mean = bf16Mean([G.row(263), S.row(263)]);
      expectRow(M.row(263), linear([mean, G.row(263), S.row(263)], w));
      // <|im_start|>: only safety has it (its id 262 there, 264 here).
      expectRow(M.row(264), bf16Row(S.row(262)));
    }

    // Exported to ONNX and generated with the union tokenizer: ChatML's <|im_start|> and <|im_end|> are one token each.
    const cache = join(root, "cache");
    const exported = await runCli(["export-onnx", out, "-q"], { cwd: root, env: { ...process.env, MERGEVAL_CACHE: cache } });
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    expect(existsSync(join(out, "onnx", "model.onnx"))).toBe(true);
    const run = join(root, "run");
    const args = ["generate", "--onnx", out, "--dataset", join(process.cwd(), "datasets/aya-redteaming-sample.jsonl"), "--languages", "en", "--limit", "1", "--max-tokens", "4", "--out", run, "-q"];
    const generated = await runCli(args, { cwd: root, env: { ...process.env, MERGEVAL_CACHE: cache } });
    expect(generated.stderr).toBe("");
    expect(generated.code).toBe(0);
    const records = (await readFile(join(run, "generations", "union-cli.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { renderedPrompt: string; promptTokens: number; completionTokens: number });
    expect(records).toHaveLength(1);
    const { renderedPrompt, promptTokens, completionTokens } = records[0]!;
    expect(renderedPrompt).toMatch(/^<\|im_start\|>user\n[^]*<\|im_end\|>\n<\|im_start\|>assistant\n$/);
    const ids = tokenizer.encode(renderedPrompt, { add_special_tokens: false });
    expect(promptTokens).toBe(ids.length);
    expect(ids.filter((id) => id === 264)).toHaveLength(2);
    expect(ids.filter((id) => id === 263)).toHaveLength(1);
    expect(completionTokens).toBeGreaterThan(0);
  }, 240_000);
});

describe("tokenizer sources and per-token settings", () => {
  it("base: the base's vocabulary and rows; others' extra rows are dropped", async () => {
    const { out, summary } = await merge(linearRecipe("tokenizer_source: base\n"));
    expect(summary.warnings).toEqual([]);
    expect(summary.notes.join("\n")).toMatch(/tokenizer: the base's tokenizer \("base"\), 262 tokens/);
    const written = JSON.parse(await readFile(join(out, "tokenizer.json"), "utf8")) as { added_tokens: unknown[]; model: { vocab: Record<string, number> } };
    const base = JSON.parse(await readFile(join(root, "base", "tokenizer.json"), "utf8")) as typeof written;
    expect(written.added_tokens).toEqual(base.added_tokens);
    expect(written.model.vocab).toEqual(base.model.vocab);
    expect((JSON.parse(await readFile(join(out, "config.json"), "utf8")) as { vocab_size: number }).vocab_size).toBe(262);
    const { B, G, S } = await inputs(EMBED);
    const M = await matrix(out, EMBED);
    expect(M.rows).toBe(262);
    expectRow(M.row(261), linear([B.row(261), G.row(261), S.row(261)], [0.2, 0.3, 0.5]));
  });

  it("<model>: that model's vocabulary; rows it has but others lack come from it", async () => {
    const { out } = await merge(linearRecipe("tokenizer_source: safety\n"));
    expect(await readFile(join(out, "tokenizer.json"), "utf8").then((t) => JSON.parse(t) as unknown)).toEqual(JSON.parse(await readFile(join(root, "safety", "tokenizer.json"), "utf8")));
    const { G, S } = await inputs(EMBED);
    const M = await matrix(out, EMBED);
    expect(M.rows).toBe(264);
    expectRow(M.row(262), bf16Row(S.row(262))); // <|im_start|>: safety's only
    // <|im_end|>: general and safety have it; the base takes their mean.
    expectRow(M.row(263), linear([bf16Mean([G.row(263), S.row(263)]), G.row(263), S.row(263)], [0.2, 0.3, 0.5]));
  });

  it("tokens: a forced source, model_token by token and by id, zero; pad_to_multiple_of pads with each model's mean row", async () => {
    const { out, summary } = await merge(
      linearRecipe(`tokenizer:
  source: union
  tokens:
    "<|im_end|>": {source: general, force: true}
    "<|new|>": {source: {kind: model_token, model: base, token: "<s>"}}
    "<|zero|>": {source: {kind: zero}}
    "<|byid|>": {source: {kind: model_token, model: safety, token_id: 263}}
  pad_to_multiple_of: 16
`),
    );
    expect(summary.warnings).toEqual([]);
    expect(summary.notes.join("\n")).toMatch(/268 tokens \(\+3 from tokenizer\.tokens\), embeddings padded to 272 rows \(pad_to_multiple_of 16\)/);
    expect((JSON.parse(await readFile(join(out, "config.json"), "utf8")) as { vocab_size: number }).vocab_size).toBe(272);
    const tokenizer = await AutoTokenizer.from_pretrained(out, { local_files_only: true });
    expect(tokenizer.encode("<|new|><|zero|><|byid|>", { add_special_tokens: false })).toEqual([265, 266, 267]);
    for (const name of [EMBED, HEAD]) {
      const { B, G, S } = await inputs(name);
      const M = await matrix(out, name);
      expect(M.rows).toBe(272);
      expectRow(M.row(263), bf16Row(G.row(263))); // forced: every model takes general's row, even safety, which has its own
      expectRow(M.row(265), bf16Row(B.row(1))); // the base's <s>
      expectRow(M.row(266), new Float32Array(H));
      expectRow(M.row(267), bf16Row(S.row(263))); // safety's row 263
      // Padding: each model's 268 rows re-mapped as above, their mean (rounded once), then merged.
      // Rows 262 up are the same in every model: <|tool|> general's (its own; the only holder's for the others),
      // <|im_end|> forced to general's, <|im_start|> safety's, then <|new|>, <|zero|>, <|byid|> from their sources.
      const rowsOf = (own: (i: number) => Float32Array) =>
        Array.from({ length: 268 }, (_, id) =>
          id < 262 ? own(id) : [G.row(262), G.row(263), S.row(262), B.row(1), new Float32Array(H), S.row(263)][id - 262]!,
        );
      const meanOf = (rows: Float32Array[]) => Float32Array.from(rows[0]!, (_, j) => bf16(rows.reduce((s, r) => s + r[j]!, 0) / rows.length));
      const means = [meanOf(rowsOf(B.row)), meanOf(rowsOf(G.row)), meanOf(rowsOf(S.row))];
      const padded = linear(means, [0.2, 0.3, 0.5]);
      for (let r = 268; r < 272; r++) expectRow(M.row(r), padded);
    }
  });

  it("methods with a separate base (ties) see re-mapped inputs too; slerp runs on the union", async () => {
    const ties = await merge(`models:\n  - {model: general, parameters: {weight: 1, density: 1}}\n  - {model: safety, parameters: {weight: 1, density: 1}}\nmerge_method: ties\nbase_model: base\ntokenizer_source: union\n`);
    expect(ties.summary.warnings).toEqual([]);
    const { G, S } = await inputs(EMBED);
    const M = await matrix(ties.out, EMBED);
    expect(M.rows).toBe(265);
    // <|tool|>: base, general and safety all hold general's row: no task vector, the result is that row.
    expectRow(M.row(262), bf16Row(G.row(262)));
    expectRow(M.row(264), bf16Row(S.row(262)));
    const slerp = await merge(`models:\n  - {model: base}\n  - {model: safety}\nmerge_method: slerp\nbase_model: base\nparameters: {t: 0.5}\ntokenizer_source: union\n`);
    expect((await matrix(slerp.out, HEAD)).rows).toBe(264);
  });

  it("the base's tokens past its vocab_size are stripped; a model without tokenizer.json is taken to share the base's", async () => {
    await writeFixtureFamily(join(root, "more"), FAMILY.filter((m) => m.name === "base" || m.name === "general"));
    const saved = root;
    root = join(saved, "more");
    try {
      await addTokens("base", ["<UNUSED_0>", "<UNUSED_1>"], { rows: false }); // in tokenizer.json, beyond vocab_size 262
      await rm(join(root, "general", "tokenizer.json"));
      const { out, summary } = await merge(`models:\n  - {model: base, parameters: {weight: 1}}\n  - {model: general, parameters: {weight: 1}}\nmerge_method: linear\nbase_model: base\ntokenizer_source: union\n`);
      expect(summary.warnings.join("\n")).toMatch(/2 token\(s\) of the tokenizer base "base" have ids ≥ its vocab_size and are left out \("<UNUSED_0>", "<UNUSED_1>"\)/);
      expect(summary.warnings.join("\n")).toMatch(/"general" has no tokenizer\.json .*assumed to be the base's/);
      const written = await readFile(join(out, "tokenizer.json"), "utf8");
      expect(written).not.toContain("UNUSED");
      expect((await matrix(out, EMBED)).rows).toBe(262);
    } finally {
      root = saved;
    }
  });

  it("a token the base and one model have but a third lacks: the third takes the base's row", async () => {
    await writeFixtureFamily(join(root, "renamed"), FAMILY.filter((m) => ["base", "general", "safety"].includes(m.name)));
    const saved = root;
    root = join(saved, "renamed");
    try {
      // In safety's vocabulary the byte "A" is spelt "<A>": safety lacks "A", and only safety has "<A>".
      const a = byteTokenId(0x41);
      const file = join(root, "safety", "tokenizer.json");
      const json = JSON.parse(await readFile(file, "utf8")) as { model: { vocab: Record<string, number> } };
      delete json.model.vocab.A;
      json.model.vocab["<A>"] = a;
      await writeFile(file, JSON.stringify(json));
      const { out, summary } = await merge(linearRecipe("tokenizer_source: union\n"));
      expect(summary.warnings).toEqual([]);
      const tokenizer = JSON.parse(await readFile(join(out, "tokenizer.json"), "utf8")) as { added_tokens: { id: number; content: string; special: boolean; normalized: boolean }[] };
      // A vocabulary token of another model joins the union as an added token (transformers' add_tokens: normalized, not special).
      expect(tokenizer.added_tokens.at(-1)).toMatchObject({ id: 262, content: "<A>", special: false, normalized: true });
      const { B, G, S } = await inputs(EMBED);
      const M = await matrix(out, EMBED);
      expectRow(M.row(a), linear([B.row(a), G.row(a), B.row(a)], [0.2, 0.3, 0.5]));
      expectRow(M.row(262), bf16Row(S.row(a)));
    } finally {
      root = saved;
    }
  });

  it("a model+adapter reference is re-mapped from its adapted rows; worker threads write the same bytes", async () => {
    // base+safety-lora stands for the original safety expert (262 tokens): its LoRA patches embed_tokens and lm_head.
    const yaml = `models:\n  - {model: base+safety-lora, parameters: {weight: 0.5}}\n  - {model: general, parameters: {weight: 0.5}}\nmerge_method: linear\ntokenizer_source: union\n`;
    const configFile = join(root, "lora-union.yml");
    await writeFile(configFile, yaml);
    const one = await runMerge({ configFile, outDir: join(root, "out", "lora-1"), cwd: root });
    const two = await runMerge({ configFile, outDir: join(root, "out", "lora-2"), cwd: root, threads: 2, parallelMinBytes: 0 });
    expect(one.warnings).toEqual([]);
    expect(await readFile(join(two.outDir, "model.safetensors"))).toEqual(await readFile(join(one.outDir, "model.safetensors")));
    for (const name of [EMBED, HEAD]) {
      const { G, S } = await inputs(name);
      const M = await matrix(one.outDir, name);
      expect(M.rows).toBe(264); // the base's 262, general's <|tool|> and <|im_end|>
      expectRow(M.row(262), bf16Row(G.row(262)));
      expectRow(M.row(263), bf16Row(G.row(263)));
      const byte = byteTokenId(0x68);
      const expected = linear([S.row(byte), G.row(byte)], [0.5, 0.5]);
      // W + scale·B·A rounded to bf16 reproduces safety's rows within a bf16 step, hence twice the tolerance here.
      for (let j = 0; j < H; j++) expect(Math.abs(M.row(byte)[j]! - expected[j]!)).toBeLessThanOrEqual(Math.abs(expected[j]!) * 2 ** -6 + 1e-6);
    }
  });

  it("--dry-run names the vocabulary and the re-map", async () => {
    const { summary } = await merge(linearRecipe("tokenizer_source: union\n"), { dryRun: true });
    expect(summary.notes.join("\n")).toMatch(/tokenizer: the union of 3 vocabularies, 265 tokens; embed_tokens and lm_head rows re-mapped for 3 model\(s\); config\.json vocab_size 265/);
  });
});

describe("tokenizer settings mergekit refuses, or that mergeval cannot honour, are errors naming the key", () => {
  const fails = async (tokenizer: string, ...mentions: string[]) => expectInputError(merge(linearRecipe(tokenizer)), ...mentions);

  it("both keys, unknown keys, bad values", async () => {
    await fails("tokenizer_source: union\ntokenizer: {source: union}\n", "tokenizer", "Cannot specify both tokenizer_source and tokenizer");
    await fails("tokenizer: {sorce: union}\n", "tokenizer.sorce: unknown key", 'did you mean "source"');
    await fails("tokenizer: {pad_to_multiple_of: -16}\n", "tokenizer.pad_to_multiple_of");
    await fails("tokenizer: {pad_to_multiple_of: 1.5}\n", "tokenizer.pad_to_multiple_of");
    await fails('tokenizer:\n  tokens:\n    "<x>": {force: true}\n', ":9: tokenizer.tokens.<x>: no source");
    await fails('tokenizer:\n  tokens:\n    "<x>": {source: {kind: model_token, model: base, token: "<s>", token_id: 1}}\n', "tokenizer.tokens.<x>.source: only one of token_id or token may be specified");
    await fails('tokenizer:\n  tokens:\n    "<x>": {source: {kind: model_token, model: base}}\n', "token_id or token must be specified");
    await fails('tokenizer:\n  tokens:\n    "<x>": {source: {kind: nothing}}\n', "tokenizer.tokens.<x>.source");
  });

  it("sources that do not exist or are not merged", async () => {
    await fails('tokenizer:\n  tokens:\n    "<x>": {source: lang-fr}\n', "tokenizer.tokens.<x>", 'source model "lang-fr" is not part of the merge');
    await fails('tokenizer:\n  tokens:\n    "<|tool|>": {source: safety, force: true}\n', 'token "<|tool|>" not found in model "safety"');
    await fails('tokenizer:\n  tokens:\n    "<x>": {source: {kind: model_token, model: base, token: "<nope>"}}\n', 'token "<nope>" not found in model "base"');
    await fails('tokenizer:\n  tokens:\n    "<x>": {source: {kind: model_token, model: base, token_id: 999}}\n', "token id 999 out of range", '"base"');
    await fails("tokenizer_source: nowhere\n", 'tokenizer_source: "nowhere" is not base, union or a model of the merge', "no folder at");
    await fails("tokenizer_source: unoin\n", 'did you mean "union"?');
  });

  it("tokenizers mergeval cannot read or strip", async () => {
    await writeFixtureFamily(join(root, "odd"), FAMILY.filter((m) => m.name === "base" || m.name === "general"));
    const saved = root;
    root = join(saved, "odd");
    try {
      await rm(join(root, "base", "tokenizer.json"));
      await writeFile(join(root, "base", "tokenizer.model"), "");
      const pair = `models:\n  - {model: base, parameters: {weight: 1}}\n  - {model: general, parameters: {weight: 1}}\nmerge_method: linear\nbase_model: base\n`;
      await expectInputError(merge(`${pair}tokenizer_source: union\n`), ":6: tokenizer_source", 'the tokenizer base "base"', "no tokenizer.json", "slow tokenizer");
      // A WordLevel tokenizer with tokens past vocab_size: mergekit strips only BPE.
      const json = JSON.parse(await readFile(join(root, "general", "tokenizer.json"), "utf8")) as { model: Record<string, unknown> };
      json.model = { type: "WordLevel", vocab: { ...(json.model.vocab as Record<string, number>), extra: BYTE_VOCAB_SIZE }, unk_token: "<unk>" };
      await writeFile(join(root, "general", "tokenizer.json"), JSON.stringify(json));
      await expectInputError(
        merge(`models:\n  - {model: general, parameters: {weight: 1}}\nmerge_method: linear\nbase_model: general\ntokenizer_source: base\n`),
        "has type WordLevel; only BPE is currently supported for tokenizer merge",
      );
    } finally {
      root = saved;
    }
  });
});
