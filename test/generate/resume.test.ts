import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StubServer } from "../../src/fixtures/openai-stub.ts";
import type { GenerationRecord } from "../../src/generate/runner.ts";

const BIN = resolve("bin/mergeval.js");
let dir: string;
let server: StubServer;
let dataset: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-resume-"));
  server = await new StubServer(() => ({ kind: "reply", delayMs: 20 })).start();
  dataset = join(dir, "dolly.jsonl");
  const languages = ["en", "fr", "hi"];
  const rows = languages.flatMap((language) =>
    Array.from({ length: 60 }, (_, i) => JSON.stringify({ id: i, inputs: `${language} question ${i}`, targets: "t", language, script: "Latn", source_id: i })),
  );
  await writeFile(dataset, rows.join("\n") + "\n");
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function generate(runDir: string): { child: ReturnType<typeof spawn>; exit: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [BIN, "generate", "--endpoint", server.url, "--model", "stub", "--dataset", dataset, "--out", runDir, "--concurrency", "4", "-q"],
    { stdio: "ignore" },
  );
  return { child, exit: new Promise((r) => child.once("exit", (code) => r(code))) };
}

async function records(runDir: string): Promise<GenerationRecord[]> {
  const text = await readFile(join(runDir, "generations", "stub.jsonl"), "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text.trim().split("\n").map((l) => JSON.parse(l) as GenerationRecord);
}

const view = (rs: GenerationRecord[]) => rs.map((r) => `${r.language}/${r.id}: ${r.output}`).sort();

describe("resume after kill -9", () => {
  it("a run killed mid-way and rerun ends with exactly the records of an uninterrupted run", async () => {
    const whole = join(dir, "whole");
    expect(await generate(whole).exit).toBe(0);

    const killed = join(dir, "killed");
    const first = generate(killed);
    const file = join(killed, "generations", "stub.jsonl");
    while ((await readFile(file, "utf8").catch(() => "")).split("\n").length < 30) await new Promise((r) => setTimeout(r, 20));
    first.child.kill("SIGKILL");
    await first.exit;
    const partial = await records(killed).catch(() => []);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(180);

    expect(await generate(killed).exit).toBe(0);
    const resumed = await records(killed);
    expect(resumed.every((r) => r.status === "done")).toBe(true);
    expect(new Set(resumed.map((r) => r.key)).size).toBe(resumed.length); // nothing duplicated
    expect(view(resumed)).toEqual(view(await records(whole))); // nothing lost
  }, 60_000);
});
