import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Sample } from "../../src/datasets/types.ts";
import { AimdLimit } from "../../src/generate/aimd.ts";
import { createOpenAIBackend } from "../../src/generate/backends/openai.ts";
import { runGeneration, type GenerationRecord, type RunOptions } from "../../src/generate/runner.ts";
import { parseRetryAfter, retryDelayMs } from "../../src/generate/retry.ts";
import { RecordStore } from "../../src/generate/store.ts";
import { StubServer, type Script } from "../../src/fixtures/openai-stub.ts";

let dir: string;
let server: StubServer | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-gen-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const samples = (n: number, language = "en"): Sample[] =>
  Array.from({ length: n }, (_, i) => ({ dataset: "t", kind: "dolly-200", id: String(i), language, prompt: `prompt ${language} ${i}`, meta: {} }));

let fileCounter = 0;
async function run(script: (prompt: string, attempt: number) => Script, list: Sample[], overrides: Partial<RunOptions> = {}, file?: string) {
  server ??= await new StubServer(script).start();
  const path = file ?? join(dir, `run-${++fileCounter}.jsonl`);
  const opened = await RecordStore.open<GenerationRecord>(path);
  try {
    const summary = await runGeneration({
      model: "stub",
      backend: createOpenAIBackend({ baseUrls: [server.url], model: "stub-model" }),
      samples: list,
      decoding: { maxTokens: 16, temperature: 0 },
      store: opened.store,
      done: opened.done,
      concurrency: 8,
      timeoutMs: 2000,
      retry: { retries: 4, baseDelayMs: 5, maxDelayMs: 50 },
      ...overrides,
    });
    return { summary, path };
  } finally {
    await opened.store.close();
  }
}

async function records(path: string): Promise<GenerationRecord[]> {
  return (await readFile(path, "utf8")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as GenerationRecord);
}

describe("generation runner against a loopback OpenAI-compatible server", () => {
  it("ends every sample done or error, with retries for 429, 500, drops and stalls", async () => {
    const flaky: Record<string, Script[]> = {
      "prompt en 1": [{ kind: "status", status: 429, retryAfter: "0" }],
      "prompt en 2": [{ kind: "status", status: 500 }, { kind: "status", status: 503 }],
      "prompt en 3": [{ kind: "drop" }],
      "prompt en 4": [{ kind: "stall", ms: 3000 }],
      "prompt en 5": [{ kind: "status", status: 400 }, { kind: "status", status: 400 }],
    };
    const { summary, path } = await run((p, n) => flaky[p]?.[n - 1] ?? { kind: "reply" }, samples(40), { timeoutMs: 500 });
    expect(summary.done + summary.errors).toBe(40);
    expect(summary.errors).toBe(1); // the 400: not retryable
    const all = await records(path);
    expect(all).toHaveLength(40);
    expect(new Set(all.map((r) => r.key)).size).toBe(40);
    const byPrompt = new Map(all.map((r) => [r.prompt, r]));
    expect(byPrompt.get("prompt en 1")).toMatchObject({ status: "done", output: "echo: prompt en 1", attempts: 2 });
    expect(byPrompt.get("prompt en 2")).toMatchObject({ status: "done", attempts: 3 });
    expect(byPrompt.get("prompt en 3")).toMatchObject({ status: "done", attempts: 2 });
    expect(byPrompt.get("prompt en 4")).toMatchObject({ status: "done", attempts: 2 });
    expect(byPrompt.get("prompt en 5")).toMatchObject({ status: "error", attempts: 1 });
    expect(byPrompt.get("prompt en 5")!.error).toMatch(/HTTP 400/);
    expect(server!.attemptsFor("prompt en 5")).toBe(1);
  });

  it("waits at least Retry-After before retrying", async () => {
    const { path } = await run((p, n) => (p === "prompt en 0" && n === 1 ? { kind: "status", status: 429, retryAfter: "1" } : { kind: "reply" }), samples(1));
    const [first, second] = server!.requests.filter((r) => r.prompt === "prompt en 0");
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect((await records(path))[0]).toMatchObject({ status: "done", attempts: 2 });
  });

  it("caches what is done and retries only errors on a rerun", async () => {
    let failing = true;
    const script = (p: string): Script => (failing && p === "prompt en 2" ? { kind: "status", status: 404 } : { kind: "reply" });
    const first = await run(script, samples(5));
    expect(first.summary).toMatchObject({ done: 4, errors: 1, cached: 0 });
    failing = false;
    const before = server!.requests.length;
    const second = await run(script, samples(5), {}, first.path);
    expect(second.summary).toMatchObject({ done: 1, errors: 0, cached: 4 });
    expect(server!.requests.length - before).toBe(1);
    const all = await records(first.path);
    expect(all.filter((r) => r.status === "done")).toHaveLength(5);
    expect(new Set(all.filter((r) => r.status === "done").map((r) => r.key)).size).toBe(5);
  });

  it("keys the cache on model, prompt and decoding parameters", async () => {
    const first = await run(() => ({ kind: "reply" }), samples(3));
    const again = await run(() => ({ kind: "reply" }), samples(3), { decoding: { maxTokens: 32, temperature: 0 } }, first.path);
    expect(again.summary.cached).toBe(0);
    const third = await run(() => ({ kind: "reply" }), samples(3), { decoding: { maxTokens: 32, temperature: 0 } }, first.path);
    expect(third.summary.cached).toBe(3);
  });

  it("never has more requests in flight than the concurrency", async () => {
    let active = 0;
    let peak = 0;
    server = await new StubServer(() => ({ kind: "reply", delayMs: 20 })).start();
    const backend = createOpenAIBackend({ baseUrls: [server.url], model: "m" });
    const counting = {
      ...backend,
      async generate(...args: Parameters<typeof backend.generate>) {
        peak = Math.max(peak, ++active);
        try {
          return await backend.generate(...args);
        } finally {
          active--;
        }
      },
    };
    const { summary } = await run(() => ({ kind: "reply" }), samples(60), { backend: counting, concurrency: 6 });
    expect(summary.done).toBe(60);
    expect(peak).toBeLessThanOrEqual(6);
    expect(peak).toBeGreaterThan(1);
  });

  it("spreads requests over several base URLs and sends the key from the named environment variable", async () => {
    const a = await new StubServer().start();
    const b = await new StubServer(() => ({ kind: "reply", delayMs: 10 })).start();
    try {
      const backend = createOpenAIBackend({ baseUrls: [a.url, b.url], model: "m", apiKeyEnv: "STUB_KEY", env: { STUB_KEY: "sekret" } });
      const { path } = await run(() => ({ kind: "reply" }), samples(20), { backend });
      expect(a.requests.length).toBeGreaterThan(0);
      expect(b.requests.length).toBeGreaterThan(0);
      expect(a.requests.length + b.requests.length).toBe(20);
      expect(a.requests[0]!.authorization).toBe("Bearer sekret");
      expect(await readFile(path, "utf8")).not.toContain("sekret");
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe("record store", () => {
  it("cuts a torn last line and keeps the rest", async () => {
    const path = join(dir, "torn.jsonl");
    await writeFile(path, `${JSON.stringify({ key: "a", status: "done" })}\n${JSON.stringify({ key: "b", status: "error" })}\n{"key":"c","sta`);
    const opened = await RecordStore.open<{ key: string; status: "done" | "error" }>(path);
    await opened.store.close();
    expect([...opened.done.keys()]).toEqual(["a"]);
    expect(opened.repairedBytes).toBeGreaterThan(0);
    expect((await readFile(path, "utf8")).endsWith("\n")).toBe(true);
  });

  it("refuses a second writer while the first is running", async () => {
    const path = join(dir, "locked.jsonl");
    await writeFile(`${path}.lock`, "1"); // pid 1 is always alive
    await expect(RecordStore.open(path)).rejects.toThrow(/in use by another mergeval run \(pid 1\)/);
    await writeFile(`${path}.lock`, "999999999"); // a dead owner's lock is taken over
    const opened = await RecordStore.open(path);
    await opened.store.close();
  });
});

describe("AIMD in-flight limit", () => {
  it("halves on a rate limit and grows back by one per `max` successes", () => {
    const limit = new AimdLimit(8);
    expect(limit.onRateLimited()).toBe(4);
    expect(limit.onRateLimited()).toBe(2);
    for (let i = 0; i < 7; i++) expect(limit.onSuccess()).toBe(2);
    expect(limit.onSuccess()).toBe(3);
    for (let i = 0; i < 100; i++) limit.onSuccess();
    expect(limit.current).toBe(8);
    for (let i = 0; i < 10; i++) limit.onRateLimited();
    expect(limit.current).toBe(1);
  });
});

describe("backoff", () => {
  it("parses Retry-After seconds and dates; the delay never undercuts it", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 2000).toUTCString(), Date.now())).toBeGreaterThan(900);
    expect(parseRetryAfter("soon")).toBeUndefined();
    const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(retryDelayMs(0, policy, 5000, () => 0.5)).toBe(5000);
    expect(retryDelayMs(3, policy, undefined, () => 0.5)).toBe(400);
    expect(retryDelayMs(10, policy, undefined, () => 1)).toBe(1000);
  });
});
