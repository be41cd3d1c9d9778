import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { FAMILY, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { writeTinyOnnxModel } from "../../src/fixtures/tiny-onnx.ts";
import { createOnnxBackend } from "../../src/generate/backends/onnx.ts";
import type { Backend } from "../../src/generate/types.ts";
import { expectInputError } from "../expect-input-error.ts";

let dir: string;
let model: string;
let backend: Backend;
const greedy = { maxTokens: 20, temperature: 0 };
const chat = (content: string) => [{ role: "user" as const, content }];
const signal = () => new AbortController().signal;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-onnx-"));
  model = join(dir, "tiny");
  await writeTinyOnnxModel(model);
  backend = await createOnnxBackend({ dir: model });
});
afterAll(async () => {
  await backend.close?.();
  await rm(dir, { recursive: true, force: true });
});

describe("local ONNX backend (@huggingface/transformers on onnxruntime-node, no network)", () => {
  it("renders the model's own chat template", async () => {
    expect(await backend.render!([{ role: "system", content: "be brief" }, ...chat("why is the sky blue")])).toBe(
      "<s><|system|> be brief <|user|> why is the sky blue <|assistant|>",
    );
  });

  it("generates greedily and deterministically, across calls and instances", async () => {
    const a = await backend.generate({ messages: chat("why is the sky blue"), decoding: greedy }, signal());
    const b = await backend.generate({ messages: chat("why is the sky blue"), decoding: greedy }, signal());
    const other = await createOnnxBackend({ dir: model });
    const c = await other.generate({ messages: chat("why is the sky blue"), decoding: greedy }, signal());
    await other.close?.();
    expect(a.text.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.renderedPrompt).toBe("<s><|user|> why is the sky blue <|assistant|>");
    expect(a.promptTokens).toBe(8); // <s> <|user|> why is the sky blue <|assistant|>
    expect(a.finishReason).toBe("stop");
    expect(a.completionTokens).toBeGreaterThan(1);
    const d = await backend.generate({ messages: chat("write a joke please"), decoding: greedy }, signal());
    expect(d.text).not.toBe(a.text); // the first token depends on the prompt
  });

  it("stops at max tokens with finishReason length", async () => {
    const r = await backend.generate({ messages: chat("hello"), decoding: { maxTokens: 1, temperature: 0 } }, signal());
    expect(r.completionTokens).toBe(1);
    expect(r.finishReason).toBe("length");
  });

  it("samples reproducibly with a seed", async () => {
    const sampled = (seed: number) => backend.generate({ messages: chat("hello world"), decoding: { maxTokens: 12, temperature: 3, seed } }, signal());
    const outputs = await Promise.all([1, 1, 2, 3, 4].map(sampled));
    expect(outputs[1]!.text).toBe(outputs[0]!.text);
    expect(new Set(outputs.map((o) => o.text)).size).toBeGreaterThan(1);
  });

  it("fingerprints the weights", async () => {
    const copy = join(dir, "copy");
    await writeTinyOnnxModel(copy);
    const same = await createOnnxBackend({ dir: copy });
    expect(await same.fingerprint()).toBe(await backend.fingerprint());
    await same.close?.();
    const changed = join(dir, "changed");
    await writeTinyOnnxModel(changed, 1);
    const other = await createOnnxBackend({ dir: changed });
    expect(await other.fingerprint()).not.toBe(await backend.fingerprint());
    await other.close?.();
  });

  it("exports a safetensors folder on first use and reuses the cached export", async () => {
    const family = join(dir, "family");
    await writeFixtureFamily(family, FAMILY.filter((m) => m.name === "general"));
    const cache = join(dir, "export-cache");
    const first = await createOnnxBackend({ dir: join(family, "general"), exportCache: cache });
    const reply = await first.generate({ messages: chat("Why is the sky blue?"), decoding: { maxTokens: 4, temperature: 0 } }, signal());
    await first.close?.();
    expect(reply.completionTokens).toBeGreaterThan(0);
    const exports = readdirSync(cache);
    expect(exports).toHaveLength(1);
    const again = await createOnnxBackend({ dir: join(family, "general"), exportCache: cache });
    expect(await again.fingerprint()).toBe(await first.fingerprint());
    await again.close?.();
    expect(readdirSync(cache)).toEqual(exports);
  });

  it("names the folder and the missing file", async () => {
    const empty = join(dir, "empty");
    await writeTinyOnnxModel(empty);
    await writeFile(join(empty, "onnx", "model.onnx"), "").then(() => rm(join(empty, "onnx", "model.onnx")));
    await expectInputError(createOnnxBackend({ dir: empty }), empty, "onnx/model.onnx");
    await expectInputError(createOnnxBackend({ dir: join(dir, "nowhere") }), "config.json");
  });
});
