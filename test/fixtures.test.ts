import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAMILY, writeFixtureFamily } from "../src/fixtures/family.ts";
import { runMerge } from "../src/merge/index.ts";
import { Checkpoint } from "../src/merge/safetensors/checkpoint.ts";
import { decodeToFloat32 } from "../src/merge/safetensors/dtype.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-family-"));
  await writeFixtureFamily(join(dir, "a"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tensor(folder: string, name: string): Promise<Float32Array> {
  const ck = await Checkpoint.open(folder);
  const entry = ck.get(name)!;
  const bytes = new Uint8Array(entry.byteLength);
  await ck.readInto(entry, bytes);
  await ck.close();
  return decodeToFloat32(bytes, "BF16");
}

describe("fixture family", () => {
  it("is deterministic: two writes give identical weights", async () => {
    await writeFixtureFamily(join(dir, "b"), FAMILY.filter((m) => m.name === "safety"));
    const a = await readFile(join(dir, "a", "safety", "model.safetensors"));
    const b = await readFile(join(dir, "b", "safety", "model.safetensors"));
    expect(a.equals(b)).toBe(true);
  });

  it("experts differ from the base and from each other", async () => {
    const name = "model.layers.1.mlp.up_proj.weight";
    const [base, general, safety] = await Promise.all(["base", "general", "safety"].map((m) => tensor(join(dir, "a", m), name)));
    const dist = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0));
    expect(dist(base!, general!)).toBeGreaterThan(0.01);
    expect(dist(general!, safety!)).toBeGreaterThan(0.01);
  });

  it("the 15% mix equals a linear merge of the experts with weights 0.85 / 0.15 (deltas are additive)", async () => {
    const config = join(dir, "mix.yml");
    await writeFile(config, `models:\n  - {model: ${join(dir, "a", "general")}, parameters: {weight: 0.85}}\n  - {model: ${join(dir, "a", "safety")}, parameters: {weight: 0.15}}\nmerge_method: linear\n`);
    await runMerge({ configFile: config, outDir: join(dir, "merged") });
    for (const name of ["model.layers.0.self_attn.q_proj.weight", "lm_head.weight", "model.norm.weight"]) {
      const merged = await tensor(join(dir, "merged"), name);
      const mix = await tensor(join(dir, "a", "mix15"), name);
      merged.forEach((v, i) => expect(Math.abs(v - mix[i]!)).toBeLessThanOrEqual(2 ** -7 * Math.max(Math.abs(v), 1e-3) * 2));
    }
  });

  it("its byte-level tokenizer round-trips all six scripts and renders the chat template", async () => {
    env.allowRemoteModels = false;
    env.localModelPath = "/";
    const tokenizer = await AutoTokenizer.from_pretrained(join(dir, "a", "base"), { local_files_only: true });
    for (const text of ["Why is the sky blue?", "आसमान नीला क्यों होता है?", "Pourquoi le ciel est-il bleu ?", "¿Por qué el cielo es azul?", "لماذا السماء زرقاء؟", "Почему небо голубое?"]) {
      expect(tokenizer.decode(tokenizer.encode(text, { add_special_tokens: false }))).toBe(text);
    }
    const rendered = tokenizer.apply_chat_template([{ role: "user", content: "hi" }], { tokenize: false, add_generation_prompt: true });
    expect(rendered).toBe("<s><|user|>hi</s><|assistant|>");
  });
});
