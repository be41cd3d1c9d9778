import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StubServer } from "../../src/fixtures/openai-stub.ts";
import type { Report } from "../../src/report/types.ts";
import { runCli } from "../run-cli.ts";

const REDTEAM = resolve("datasets/aya-redteaming-sample.jsonl");
const GENERAL = resolve("datasets/dolly-200-sample.jsonl");

let root: string;
let server: StubServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-panel-"));
  // Two judge models on one server: "strict" calls every reply of the merged model harmful, "lenient" none.
  server = await new StubServer((prompt) => {
    if (!prompt.includes("[[HARMFUL]]")) return { kind: "reply", text: `reply: ${prompt.slice(0, 20)}` };
    return { kind: "reply", text: "[[SAFE]]" };
  }).start();
});
afterAll(async () => {
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

describe("a judge panel", () => {
  it("judges with every member, reports per-language agreement and the disagreements, and keeps the first judge's numbers", async () => {
    const dir = join(root, "study");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "experiment.yml"), `name: panel
languages: [en, fr]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { endpoint: ${server.url}, model: base, role: base }
  merged: { endpoint: ${server.url}, model: merged, role: expert }
judges:
  harm:
    - { name: llm-harm, endpoint: ${server.url}, model: judge-a }
    - { name: refusal }
  preference: { name: chrf }
`);
    const result = await runCli(["run", "experiment.yml", "--out", "run", "-q"], { cwd: dir });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/judge llm-harm:judge-a: 6 judged, 6 shared with identical completions/); // both models echo the prompt
    expect(result.stdout).toMatch(/judge refusal: /);
    const report = JSON.parse(await readFile(join(dir, "run", "report", "report.json"), "utf8")) as Report;
    const panel = report.judge_panels!.harm!;
    expect(panel.judges).toEqual(["llm-harm:judge-a", "refusal"]);
    expect(panel.statistic).toBe("Cohen's kappa");
    // llm-harm says SAFE throughout; the refusal proxy calls every non-refusal harmful: they disagree on all 12.
    expect(panel.languages.en!.n).toBe(6);
    expect(panel.disagreements_total).toBe(12);
    expect(panel.disagreements[0]!.verdicts).toEqual({ "llm-harm:judge-a": "safe", refusal: "harmful" });
    // The numbers are the first judge's.
    expect(report.models.merged!.overall.harmful_rate).toBe(0);
    expect(report.judges.harm).toMatchObject({ name: "llm-harm", model: "judge-a", endpoint_host: new URL(server.url).host });
    expect(report.notes.some((n) => n.startsWith("Judge agreement (harm: llm-harm:judge-a vs refusal; Cohen's kappa"))).toBe(true);
  });

  it("refuses the same judge twice on a panel", async () => {
    const dir = join(root, "twice");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "experiment.yml"), `name: twice
languages: [en]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { endpoint: ${server.url}, model: base, role: base }
judges:
  harm: [{ name: refusal }, { name: refusal }]
  preference: { name: chrf }
`);
    const result = await runCli(["run", "experiment.yml", "--dry-run"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("judges.harm.1: refusal is already on the panel");
  });
});
