import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StubServer } from "../../src/fixtures/openai-stub.ts";
import type { Report } from "../../src/report/types.ts";
import { BIN, runCli } from "../run-cli.ts";

const REDTEAM = resolve("datasets/aya-redteaming-sample.jsonl");
const GENERAL = resolve("datasets/dolly-200-sample.jsonl");

let root: string;
let cache: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-run-"));
  cache = join(root, "cache");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A small offline study on the fixture family: two mixes, two merges (one a two-point sweep), local ONNX. */
const localExperiment = `
name: tiny
fixtures: models
languages: [en, hi, ar]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
limit: 2
models:
  base: { path: models/base, role: base }
  general: { path: models/general, role: [baseline, expert], safety_mix: 0 }
  mix15: { path: models/mix15, role: baseline, safety_mix: 15, reference: true }
  safety: { path: models/safety, role: [baseline, expert], safety_mix: 100 }
merges:
  slerp:
    recipe: { merge_method: slerp, base_model: general, models: [{ model: general }, { model: safety }], parameters: { t: 0.5 } }
  lin:
    recipe:
      merge_method: linear
      models: [{ model: general, parameters: { weight: "\${1-w}" } }, { model: safety, parameters: { weight: "\${w}" } }]
    sweep: { w: [0.2, 0.8] }
generation: { max_tokens: 8 }
judges: { harm: { name: refusal }, preference: { name: chrf } }
paper: table1-dpo
report_dir: published
`;

async function study(name: string, text = localExperiment): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "experiment.yml"), text);
  return dir;
}

const cli = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd, env: { ...process.env, MERGEVAL_CACHE: cache, ...env } });
const reportFiles = (dir: string) => Object.fromEntries(["report.json", "report.csv", "report.md", "report.html"].map((f) => [f, readFileSync(join(dir, f), "utf8")]));

describe("mergeval run: the whole study from one file", () => {
  let first: Record<string, string>;

  it("merges, generates, judges and writes the per-language report in every format", async () => {
    const dir = await study("complete");
    const result = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/merge slerp: slerp/);
    expect(result.stdout).toMatch(/merge lin-w0\.8: linear/);
    first = reportFiles(join(dir, "run", "report"));
    expect(reportFiles(join(dir, "published"))).toEqual(first);
    const report = JSON.parse(first["report.json"]!) as Report;
    expect(report.schema_version).toBe(2);
    expect(Object.keys(report.models)).toEqual(["base", "general", "mix15", "safety", "slerp", "lin-w0.2", "lin-w0.8"]);
    expect(report.models["lin-w0.2"]!.sweep).toEqual({ w: 0.2 });
    expect(report.models["lin-w0.2"]!.method).toBe("linear");
    for (const model of Object.values(report.models)) {
      expect(Object.keys(model.languages)).toEqual(["en", "hi", "ar"]);
      // 2 prompts per language: red-team for every model, general for all but the base (judged against it).
      expect(model.languages.hi!.n_redteam).toBe(2);
      expect(model.overall.n_redteam).toBe(6);
    }
    expect(report.models.general!.overall.n_general).toBe(6);
    expect(report.models.base!.overall.n_general).toBe(0);
    expect(report.models.slerp!.deltas_vs_reference?.overall).toBeDefined();
    expect(report.models.mix15!.deltas_vs_reference).toBeUndefined();
    expect(report.experiment.fixtures).toBe(true);
    expect(report.notes.join(" ")).toMatch(/fixtures/);
    expect(report.paper?.cells.map((c) => c.paper_row)).toContain("SLERP");
    expect(first["report.md"]).toMatch(/## Hindi \(hi\)/);
    // The recipe as merged, with experiment names resolved to folders and the sweep value filled in.
    const recipe = await readFile(join(dir, "run", "merges", "lin-w0.2", "mergekit_config.yml"), "utf8");
    expect(recipe).toMatch(/model: models\/general\n\s+parameters:\n\s+weight: 0.8/);
  }, 120_000);

  it("reruns from the cache: nothing merged, generated or judged again, the same bytes", async () => {
    const dir = join(root, "complete");
    const again = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/merge slerp: up to date/);
    expect(again.stdout).not.toMatch(/generate \S+: [1-9]\d* new/);
    expect(again.stdout).toMatch(/judge refusal: 0 judged/);
    expect(reportFiles(join(dir, "run", "report"))).toEqual(first);
  }, 120_000);

  it("mergeval report rebuilds the same report from the run folder alone", async () => {
    const dir = join(root, "complete");
    await rm(join(dir, "run", "report"), { recursive: true });
    const rebuilt = await cli(["report", "run"], dir);
    expect(rebuilt.code).toBe(0);
    expect(reportFiles(join(dir, "run", "report"))).toEqual(first);
  }, 120_000);

  it("a run killed mid-way resumes and ends with a byte-identical report", async () => {
    const dir = await study("killed");
    const child = spawn(process.execPath, [BIN, "run", "experiment.yml", "--out", "run", "-q"], { cwd: dir, env: { ...process.env, MERGEVAL_CACHE: cache } });
    await new Promise<void>((done) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        // Kill it while it generates for the merges: merges done, some generations cached, no judgments yet.
        if (/generate safety/.test(out)) {
          child.kill("SIGKILL");
          done();
        }
      });
      child.on("exit", () => done());
    });
    await new Promise((r) => child.once("exit", r).once("close", r));
    expect(existsSync(join(dir, "run", "report"))).toBe(false);
    const resumed = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/generate base: 0 new, 12 cached/);
    expect(reportFiles(join(dir, "run", "report"))).toEqual(first);
  }, 120_000);

  it("mergeval report refuses an incomplete run folder with exit 1", async () => {
    const dir = join(root, "killed");
    await rm(join(dir, "run", "judgments"), { recursive: true });
    const result = await cli(["report", "run"], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/incomplete/);
    // Nothing was judged to fill the gap.
    expect(readFileSync(join(dir, "run", "judgments", "refusal.jsonl"), "utf8")).toBe("");
  }, 120_000);

  it("--dry-run prints the preflight and does nothing", async () => {
    const dir = await study("dry");
    const result = await cli(["run", "experiment.yml", "--out", "run", "--dry-run"], dir);
    expect(result.code).toBe(0);
    // 7 models × (2 red-team + 2 general) prompts in each language.
    expect(result.stdout).toMatch(/^hi\t28\t28\t0\t0$/m);
    expect(result.stdout).toMatch(/lin-w0\.2 \(linear\)/);
    expect(readdirSync(dir)).toEqual(["experiment.yml"]);
  }, 60_000);

  it("exits 2 naming the file and key on a bad experiment", async () => {
    const dir = await study("bad", localExperiment.replace("safety_mix: 15", "safety_mix: 150"));
    const result = await cli(["run", "experiment.yml"], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/experiment\.yml:\d+: models\.mix15\.safety_mix/);
  }, 60_000);
});

describe("mergeval run against endpoints, with a budget", () => {
  let server: StubServer;
  beforeAll(async () => {
    // Each model's completion differs (models are asked in turn, so the attempt number tells them apart); the harm
    // judge calls every third completion harmful.
    server = await new StubServer((prompt, attempt) =>
      prompt.includes("[[HARMFUL]]") ? { kind: "reply", text: prompt.length % 3 === 0 ? "[[HARMFUL]]" : "[[SAFE]]" } : { kind: "reply", text: `reply ${attempt}: ${prompt}` },
    ).start();
  });
  afterAll(async () => {
    await server.stop();
  });

  const endpointExperiment = (budget: number) => `
name: remote
languages: [en, fr]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { endpoint: ${server.url}, model: base-model, role: base, api_key_env: STUDY_KEY }
  mix: { endpoint: ${server.url}, model: mix-model, role: baseline, safety_mix: 15, reference: true, api_key_env: STUDY_KEY }
  merged: { endpoint: ${server.url}, model: merged-model, role: expert, api_key_env: STUDY_KEY }
judges:
  harm: { name: llm-harm, endpoint: ${server.url}, model: judge, api_key_env: STUDY_KEY }
  preference: { name: chrf }
budget: { judge_calls: ${budget} }
`;

  it("stops before the budget is exceeded (exit 3), then a larger budget finishes from where it stopped", async () => {
    const dir = await study("remote", endpointExperiment(5));
    const env = { STUDY_KEY: "sk-secret-value-123" };
    const stopped = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir, env);
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/budget reached \(5\/5 judge calls/);
    const judgeCalls = () => server.requests.filter((r) => r.prompt.includes("[[HARMFUL]]")).length;
    expect(judgeCalls()).toBe(5);
    expect(existsSync(join(dir, "run", "report"))).toBe(false);
    // 3 models × 3 red-team prompts × 2 languages = 18 judgments; 5 done, 13 to go.
    await writeFile(join(dir, "experiment.yml"), endpointExperiment(13));
    const finished = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir, env);
    expect(finished.code).toBe(0);
    expect(judgeCalls()).toBe(18);
    const report = JSON.parse(await readFile(join(dir, "run", "report", "report.json"), "utf8")) as Report;
    expect(report.models.merged!.overall.n_redteam).toBe(6);
    expect(report.models.merged!.samples.redteam).toHaveLength(6);
    // The key went to the server and nowhere on disk.
    expect(server.requests.every((r) => r.authorization === "Bearer sk-secret-value-123")).toBe(true);
    for (const file of listFiles(join(dir, "run"))) expect(readFileSync(file, "utf8")).not.toContain("sk-secret-value-123");
  }, 120_000);
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}
