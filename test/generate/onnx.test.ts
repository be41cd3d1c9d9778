import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import diagnostics from "node:diagnostics_channel";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { env } from "@huggingface/transformers";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { InputError } from "../../src/errors.ts";
import { FAMILY, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { TINY_VOCAB, writeTinyOnnxModel } from "../../src/fixtures/tiny-onnx.ts";
import { createOnnxBackend, filterTopP, onnxBackend } from "../../src/generate/backends/onnx.ts";
import { loadChatTemplate } from "../../src/generate/chat-template.ts";
import { BackendError, type Backend, type ChatMessage, type DecodingParams } from "../../src/generate/types.ts";
import { expectInputError } from "../expect-input-error.ts";

let dir: string;
let model: string;
let backend: Backend;
const greedy: DecodingParams = { maxTokens: 20, temperature: 0 };
const chat = (content: string): ChatMessage[] => [{ role: "user", content }];
const signal = () => new AbortController().signal;
const generate = (messages: ChatMessage[], decoding: DecodingParams = greedy, b: Backend = backend) => b.generate({ messages, decoding }, signal());

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-onnx-"));
  model = join(dir, "tiny");
  await writeTinyOnnxModel(model);
  backend = await onnxBackend.create({ dir: model, dtype: "fp32" });
});
afterAll(async () => {
  await backend.close?.();
  await rm(dir, { recursive: true, force: true });
});

describe("the tiny ONNX model (written by code)", () => {
  it("loads in onnxruntime-node with the transformers.js decoder layout, and its KV cache is exact", async () => {
    const session = await ort.InferenceSession.create(join(model, "onnx", "model.onnx"));
    expect(session.inputNames).toEqual(["input_ids", "attention_mask", "past_key_values.0.key", "past_key_values.0.value"]);
    expect(session.outputNames).toEqual(["logits", "present.0.key", "present.0.value"]);
    const v = TINY_VOCAB.length;
    const ids = [1n, 4n, 25n, 14n, 8n, 26n, 27n, 5n]; // <s> <|user|> why is the sky blue <|assistant|>
    const int64 = (values: bigint[]) => new ort.Tensor("int64", BigInt64Array.from(values), [1, values.length]);
    const empty = new ort.Tensor("float32", new Float32Array(0), [1, 1, 0, v]);
    const feeds = (input: bigint[], total: number, past: ort.Tensor[]) => ({
      input_ids: int64(input), attention_mask: int64(Array(total).fill(1n)), "past_key_values.0.key": past[0]!, "past_key_values.0.value": past[1]!,
    });
    const full = await session.run(feeds(ids, ids.length, [empty, empty]));
    expect(full.logits!.dims).toEqual([1, ids.length, v]);
    expect(full["present.0.key"]!.dims).toEqual([1, 1, ids.length, v]);
    let past: ort.Tensor[] = [empty, empty];
    for (let t = 0; t < ids.length; t++) {
      const step = await session.run(feeds([ids[t]!], t + 1, past));
      past = [step["present.0.key"]!, step["present.0.value"]!];
      expect(Array.from(step.logits!.data as Float32Array)).toEqual(Array.from((full.logits!.data as Float32Array).subarray(t * v, (t + 1) * v)));
    }
    await session.release();
  });
});

describe("local ONNX backend (@huggingface/transformers on onnxruntime-node, no network)", () => {
  it("loads and generates with remote loading off, opening no connection", async () => {
    const fetches = vi.fn(() => Promise.reject(new Error("no network in tests")));
    // Every TCP client socket (net, and so fetch) and every fetch request is announced on these channels.
    const connections: string[] = [];
    const onSocket = () => connections.push("socket");
    const onRequest = () => connections.push("fetch");
    diagnostics.subscribe("net.client.socket", onSocket);
    diagnostics.subscribe("undici:request:create", onRequest);
    const savedFetch = env.fetch;
    env.fetch = fetches as unknown as typeof env.fetch;
    env.allowRemoteModels = true; // as the library starts: creating the backend switches it off
    try {
      const fresh = await createOnnxBackend({ dir: model });
      expect(env.allowRemoteModels).toBe(false);
      expect((await generate(chat("hello"), greedy, fresh)).text).toBe("world the model");
      await fresh.close?.();
    } finally {
      env.fetch = savedFetch;
      diagnostics.unsubscribe("net.client.socket", onSocket);
      diagnostics.unsubscribe("undici:request:create", onRequest);
    }
    expect(fetches).not.toHaveBeenCalled();
    expect(connections).toEqual([]);
  });

  it("renders the prompt with the model's own chat template", async () => {
    const messages: ChatMessage[] = [{ role: "system", content: "be brief" }, ...chat("why is the sky blue")];
    const rendered = await backend.render!(messages);
    expect(rendered).toBe("<s><|system|> be brief <|user|> why is the sky blue <|assistant|>");
    expect(rendered).toBe((await loadChatTemplate(model)).render(messages));
  });

  it("generates greedily for two chats: the new tokens only, counted, stopped at </s>", async () => {
    const sky = await generate(chat("why is the sky blue"));
    expect(sky).toEqual({
      text: "blue three tips", // the first word depends on the whole prompt, then the chain runs to </s>
      renderedPrompt: "<s><|user|> why is the sky blue <|assistant|>",
      promptTokens: 8, // <s> <|user|> why is the sky blue <|assistant|>
      completionTokens: 4, // blue three tips </s>
      finishReason: "stop",
    });
    expect(sky.renderedPrompt).toBe(await backend.render!(chat("why is the sky blue")));
    const joke = await generate(chat("Write a joke please"));
    expect(joke).toMatchObject({ text: "thanks sorry why", promptTokens: 7, completionTokens: 4, finishReason: "stop" });
  });

  it("is deterministic across calls and across instances", async () => {
    const a = await generate(chat("why is the sky blue"));
    const b = await generate(chat("why is the sky blue"));
    const other = await createOnnxBackend({ dir: model });
    const c = await generate(chat("why is the sky blue"), greedy, other);
    await other.close?.();
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it("stops at maxTokens with finishReason length", async () => {
    const r = await generate(chat("why is the sky blue"), { maxTokens: 2, temperature: 0 });
    expect(r).toMatchObject({ text: "blue three", completionTokens: 2, finishReason: "length" });
  });

  it("samples reproducibly with a seed, whatever ran before", async () => {
    const sampled = (seed: number) => generate(chat("hello world"), { maxTokens: 12, temperature: 3, seed });
    const outputs = await Promise.all([1, 2, 1, 3, 4, 5].map(sampled));
    expect(outputs[2]).toEqual(outputs[0]);
    expect(new Set(outputs.map((o) => o.text)).size).toBeGreaterThan(1);
    // A nucleus this small keeps only the most likely token: sampling becomes greedy.
    const nucleus = await generate(chat("why is the sky blue"), { maxTokens: 20, temperature: 3, topP: 1e-6, seed: 7 });
    expect(nucleus.text).toBe("blue three tips");
  });

  it("filters the nucleus as transformers' TopPLogitsWarper does", () => {
    const logits = Float32Array.from([Math.log(0.1), Math.log(0.5), Math.log(0.3), Math.log(0.1)]);
    filterTopP(logits, 0.7); // 0.5 < 0.7, 0.5 + 0.3 ≥ 0.7: the token crossing the threshold is kept
    expect(Array.from(logits).map((x) => x === -Infinity)).toEqual([true, false, false, true]);
  });

  it("honours the abort signal before starting and between tokens", async () => {
    const aborted = new AbortController();
    aborted.abort();
    const user = await backend.generate({ messages: chat("hello"), decoding: greedy }, aborted.signal).catch((e: unknown) => e);
    expect(user).toBeInstanceOf(BackendError);
    expect((user as BackendError).retryable).toBe(false);
    const deadline = AbortSignal.timeout(0);
    await new Promise((r) => setTimeout(r, 5));
    const timedOut = await backend.generate({ messages: chat("hello"), decoding: greedy }, deadline).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(BackendError);
    expect((timedOut as BackendError).retryable).toBe(true); // a timeout may be retried, as for the HTTP backends
    // A signal that turns aborted after the first token: generation stops there instead of running to </s>.
    let reads = 0;
    const midway = { get aborted() { return ++reads > 2; }, reason: undefined } as unknown as AbortSignal;
    const stopped = await backend.generate({ messages: chat("why is the sky blue"), decoding: greedy }, midway).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(BackendError);
    expect(reads).toBe(4); // before starting, after token 1, after token 2 (aborted: stop), after generating
  });

  it("rejects bad decoding parameters and dtypes as input errors", async () => {
    await expectInputError(generate(chat("hello"), { maxTokens: 0, temperature: 0 }), "maxTokens");
    await expectInputError(generate(chat("hello"), { maxTokens: 4, temperature: -1 }), "temperature");
    await expectInputError(generate(chat("hello"), { maxTokens: 4, temperature: 1, topP: 0 }), "topP");
    await expectInputError(createOnnxBackend({ dir: model, dtype: "fp16" as "fp32" }), "fp16");
  });

  it("fingerprints the weights and model files: stable, cached per instance, changed by a weight", async () => {
    const fingerprint = await backend.fingerprint();
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(await backend.fingerprint()).toBe(fingerprint);
    const copy = join(dir, "copy");
    await writeTinyOnnxModel(copy);
    await writeFile(join(copy, "onnx", "model_quantized.onnx"), "a variant the fp32 load never reads");
    await writeFile(join(copy, "README.md"), "not part of the model");
    const same = await createOnnxBackend({ dir: copy });
    expect(await same.fingerprint()).toBe(fingerprint);
    // One weight changed on disk: the open instance keeps its hash (computed once), a new instance sees the change.
    const bytes = await readFile(join(copy, "onnx", "model.onnx"));
    const at = bytes.lastIndexOf(Buffer.from(new Float32Array([1]).buffer)); // a weight equal to 1 (one-hot embeddings)
    expect(at).toBeGreaterThan(0);
    bytes.writeFloatLE(0.5, at);
    await writeFile(join(copy, "onnx", "model.onnx"), bytes);
    expect(await same.fingerprint()).toBe(fingerprint);
    await same.close?.();
    const changed = await createOnnxBackend({ dir: copy });
    expect(await changed.fingerprint()).not.toBe(fingerprint);
    await changed.close?.();
    const reseeded = join(dir, "reseeded");
    await writeTinyOnnxModel(reseeded, 1);
    const other = await createOnnxBackend({ dir: reseeded });
    expect(await other.fingerprint()).not.toBe(fingerprint);
    await other.close?.();
  });

  it("names the folder and the missing file", async () => {
    const noWeights = join(dir, "no-weights");
    await writeTinyOnnxModel(noWeights);
    await rm(join(noWeights, "onnx", "model.onnx"));
    const err = await expectInputError(createOnnxBackend({ dir: noWeights }), noWeights, "onnx/model.onnx");
    expect(err.message).not.toContain("config.json");
    const noConfig = join(dir, "no-config");
    await writeTinyOnnxModel(noConfig);
    await rm(join(noConfig, "config.json"));
    await expectInputError(createOnnxBackend({ dir: noConfig }), noConfig, "config.json");
    await expectInputError(createOnnxBackend({ dir: join(dir, "nowhere") }), join(dir, "nowhere"), "does not exist", "config.json");
  });

  it("loads a folder without a chat template, and refuses to render for it", async () => {
    const bare = join(dir, "bare");
    await writeTinyOnnxModel(bare);
    const config = JSON.parse(await readFile(join(bare, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    delete config.chat_template;
    await writeFile(join(bare, "tokenizer_config.json"), JSON.stringify(config));
    const b = await createOnnxBackend({ dir: bare });
    await expectInputError(b.render!(chat("hello")), bare, "no chat template");
    await expectInputError(generate(chat("hello"), greedy, b), bare, "no chat template");
    await b.close?.();
  });

  it("exports a safetensors folder on first use and reuses the cached export", async () => {
    const family = join(dir, "family");
    await writeFixtureFamily(family, FAMILY.filter((m) => m.name === "general"));
    const cache = join(dir, "export-cache");
    const first = await createOnnxBackend({ dir: join(family, "general"), exportCache: cache });
    const reply = await generate(chat("Why is the sky blue?"), { maxTokens: 4, temperature: 0 }, first);
    await first.close?.();
    expect(reply.completionTokens).toBeGreaterThan(0);
    const exports = readdirSync(cache);
    expect(exports).toHaveLength(1);
    const again = await createOnnxBackend({ dir: join(family, "general"), exportCache: cache });
    expect(await again.fingerprint()).toBe(await first.fingerprint());
    await again.close?.();
    expect(readdirSync(cache)).toEqual(exports);
  });

  it("refuses to generate once closed", async () => {
    const copy = join(dir, "closing");
    await writeTinyOnnxModel(copy);
    const b = await createOnnxBackend({ dir: copy });
    await b.close?.();
    const err = await generate(chat("hello"), greedy, b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).not.toBeInstanceOf(InputError);
  });
});
