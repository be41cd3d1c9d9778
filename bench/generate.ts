/**
 * Generation benchmark: the harness against an OpenAI-compatible stub on loopback in another process (so only
 * the harness's own CPU is counted) with a fixed 50 ms latency.
 * Measures requests/s at concurrency 64 against the ideal 64 / 0.05 s = 1280/s, the harness's CPU time per
 * request, and a fully cached rerun of 10,000 samples. It measures; it never fails because of a time.
 *
 *   npm run bench -- --suite generate [--requests 4000] [--concurrency 64] [--latency-ms 50] [--cached 10000]
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Sample } from "../src/datasets/types.ts";
import { writeTinyOnnxModel } from "../src/fixtures/tiny-onnx.ts";
import { createOnnxBackend } from "../src/generate/backends/onnx.ts";
import { createOpenAIBackend } from "../src/generate/backends/openai.ts";
import { generationKey, messagesFor, runGeneration, type GenerationRecord } from "../src/generate/runner.ts";
import { RecordStore } from "../src/generate/store.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "4000" },
    concurrency: { type: "string", default: "64" },
    "latency-ms": { type: "string", default: "50" },
    cached: { type: "string", default: "10000" },
  },
  allowPositionals: true,
  strict: false,
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const latencyMs = Number(values["latency-ms"]);
const cachedCount = Number(values.cached);
const decoding = { maxTokens: 16, temperature: 0 };

const samples = (n: number, tag: string): Sample[] =>
  Array.from({ length: n }, (_, i) => ({ dataset: "bench", kind: "dolly-200", id: `${tag}${i}`, language: "en", prompt: `${tag} prompt ${i}`, meta: {} }));

async function startStub(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ["--import", "tsx", "-e", `
    import("./src/fixtures/openai-stub.ts").then(async ({ StubServer }) => {
      const s = await new StubServer(() => ({ kind: "reply", delayMs: ${latencyMs} })).start();
      process.stdout.write(s.url + "\\n");
    });`], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (code) => reject(new Error(`stub server exited (${code})`)));
  });
  return { url, stop: () => child.kill() };
}

const dir = await mkdtemp(join(tmpdir(), "mergeval-bench-gen-"));
const stub = await startStub();
try {
  const backend = createOpenAIBackend({ baseUrls: [stub.url], model: "bench" });
  const run = async (list: Sample[], file: string) => {
    const opened = await RecordStore.open<GenerationRecord>(join(dir, file));
    try {
      return await runGeneration({
        model: "bench", backend, samples: list, decoding, store: opened.store, done: opened.done,
        concurrency, timeoutMs: 30_000, retry: { retries: 3, baseDelayMs: 100, maxDelayMs: 1000 },
      });
    } finally {
      await opened.store.close();
    }
  };
  await run(samples(Math.min(500, requests), "warm"), "warm.jsonl");

  const cpuBefore = process.cpuUsage();
  const live = await run(samples(requests, "live"), "live.jsonl");
  const cpu = process.cpuUsage(cpuBefore);
  const ideal = concurrency / (latencyMs / 1000);
  const cpuMsPerRequest = (cpu.user + cpu.system) / 1000 / live.requests;

  // A fully cached rerun: a store holding 10,000 done records, then a run over the same samples.
  const cachedSamples = samples(cachedCount, "cached");
  const fingerprint = await backend.fingerprint();
  const prepared = await RecordStore.open<GenerationRecord>(join(dir, "cached.jsonl"));
  for (const s of cachedSamples) {
    const messages = messagesFor(s);
    await prepared.store.append({
      key: generationKey(fingerprint, messages, decoding), status: "done", model: "bench", fingerprint, dataset: s.dataset, kind: s.kind,
      language: s.language, id: s.id, prompt: s.prompt, messages, decoding, output: "cached", attempts: 1, latencyMs: 0, time: new Date().toISOString(),
    });
  }
  await prepared.store.close();
  const cachedStart = performance.now();
  const rerun = await run(cachedSamples, "cached.jsonl");
  const cachedSeconds = (performance.now() - cachedStart) / 1000;

  console.log(`generation: ${live.requests} requests at concurrency ${concurrency}, stub latency ${latencyMs} ms (stub in its own process)`);
  console.log(`  requests/s         ${live.requestsPerSecond.toFixed(0)} of ideal ${ideal.toFixed(0)} = ${((100 * live.requestsPerSecond) / ideal).toFixed(1)}%  (target >= 90%)`);
  console.log(`  harness CPU        ${cpuMsPerRequest.toFixed(3)} ms per request  (target <= 0.2 ms)`);
  console.log(`  cached rerun       ${rerun.cached} of ${cachedCount} cached, ${cachedSeconds.toFixed(2)} s  (target < 2 s)`);
  console.log(`  errors             ${live.errors}`);

  // Local generation through @huggingface/transformers + onnxruntime-node on the tiny ONNX model: this
  // measures the per-token overhead of the local path, not a real model's speed.
  const onnxDir = join(dir, "tiny-onnx");
  await writeTinyOnnxModel(onnxDir);
  const onnx = await createOnnxBackend({ dir: onnxDir });
  const opened = await RecordStore.open<GenerationRecord>(join(dir, "onnx.jsonl"));
  const local = await runGeneration({
    model: "tiny-onnx", backend: onnx, samples: samples(200, "onnx").map((s) => ({ ...s, prompt: `hello ${s.prompt}` })),
    decoding: { maxTokens: 64, temperature: 0 }, store: opened.store, done: opened.done, concurrency: 4, timeoutMs: 30_000,
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
  await opened.store.close();
  await onnx.close?.();
  console.log(`local ONNX (tiny model): ${local.done} generations, ${(local.completionTokens / local.seconds).toFixed(0)} tokens/s, ${local.requestsPerSecond.toFixed(0)} generations/s`);
} finally {
  stub.stop();
  await rm(dir, { recursive: true, force: true });
}
