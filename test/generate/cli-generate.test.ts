import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StubServer } from "../../src/fixtures/openai-stub.ts";
import { writeTinyOnnxModel } from "../../src/fixtures/tiny-onnx.ts";
import { runCli } from "../run-cli.ts";

let dir: string;
let server: StubServer;
let failing = true;

const run = (args: string[]) => runCli(["generate", ...args], { env: { ...process.env, STUB_KEY: "k-123" } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-gencli-"));
  server = await new StubServer((prompt) => (failing && prompt.includes("नीला") ? { kind: "status", status: 400 } : { kind: "reply" })).start();
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("mergeval generate", () => {
  it("exits 1 while some prompts fail, then 0 once a rerun retries only those", async () => {
    const args = ["--endpoint", server.url, "--model", "stub", "--api-key-env", "STUB_KEY", "--dataset", "datasets/dolly-200-sample.jsonl", "--out", dir];
    const first = await run(args);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/stub: 11 generated, 0 cached, 1 failed of 12/);
    expect(first.stderr).toMatch(/rerun the same command/);
    failing = false;
    const before = server.requests.length;
    const second = await run(args);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/stub: 1 generated, 11 cached, 0 failed of 12/);
    expect(server.requests.length - before).toBe(1);
    const text = await readFile(join(dir, "generations", "stub.jsonl"), "utf8");
    expect(text).not.toContain("k-123");
  });

  it("runs a local ONNX model folder; a rerun is fully cached", async () => {
    const model = join(dir, "tiny-onnx");
    await writeTinyOnnxModel(model);
    const args = ["--onnx", model, "--dataset", "datasets/aya-redteaming-sample.jsonl", "--languages", "en,fr", "--max-tokens", "8", "--out", dir];
    const first = await run(args);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/tiny-onnx: 6 generated, 0 cached, 0 failed of 6/);
    const records = (await readFile(join(dir, "generations", "tiny-onnx.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(records[0].renderedPrompt).toMatch(/^<s><\|user\|> .* <\|assistant\|>$/);
    expect((await run(args)).stdout).toMatch(/tiny-onnx: 0 generated, 6 cached/);
  });

  it("exits 2 on bad input, naming what is wrong", async () => {
    expect((await run(["--dataset", "datasets/dolly-200-sample.jsonl", "--out", dir])).stderr).toMatch(/--endpoint URL --model NAME/);
    const missing = await run(["--endpoint", server.url, "--model", "m", "--dataset", "nope.jsonl", "--out", dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.jsonl/);
    const noKey = await run(["--endpoint", server.url, "--model", "m", "--api-key-env", "NOT_SET_ANYWHERE", "--dataset", "datasets/dolly-200-sample.jsonl", "--out", dir]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/NOT_SET_ANYWHERE/);
  });
});
