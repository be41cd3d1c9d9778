import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StubServer, type Script } from "../../src/fixtures/openai-stub.ts";
import type { Report } from "../../src/report/types.ts";
import { runCli } from "../run-cli.ts";

/** Every failure path a user meets first, through the real CLI against real loopback servers. */

const REDTEAM = resolve("datasets/aya-redteaming-sample.jsonl");
const GENERAL = resolve("datasets/dolly-200-sample.jsonl");

let root: string;
let deadUrl: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-failures-"));
  deadUrl = `http://127.0.0.1:${await closedPort()}/v1`;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A server that answers its probe and `answers` completions, then goes away (every later connection is refused). */
async function dyingServer(answers: number, script: (prompt: string) => Script = () => ({ kind: "reply" })): Promise<StubServer> {
  let served = 0;
  const server: StubServer = await new StubServer((prompt) => {
    if (++served <= answers) return script(prompt);
    void server.stop();
    return { kind: "drop" };
  }).start();
  return server;
}

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, ".."), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

/** A run folder holding generations of two models (4 red-team, 1 general prompt each), for `mergeval judge`. */
async function runFolder(name: string): Promise<string> {
  const line = (model: string, kind: string, id: string, output: string) =>
    JSON.stringify({ key: `${model}-${id}`, status: "done", model, kind, dataset: kind, language: "en", id, sourceId: id, prompt: `prompt ${id}`, output });
  const lines = (model: string) => [...[1, 2, 3, 4].map((i) => line(model, "aya-redteaming", `r${i}`, `${model} answer ${i}`)), line(model, "dolly-200", "g1", `${model} help`)];
  return folder(name, { "generations/base.jsonl": lines("base").join("\n") + "\n", "generations/merge.jsonl": lines("merge").join("\n") + "\n" });
}

const cli = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd, env: { ...process.env, ...env } });

async function timed<T>(work: Promise<T>): Promise<T & { seconds: number }> {
  const started = performance.now();
  const result = await work;
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

describe("endpoints that cannot be used fail before any work, in seconds, with the cause and the fix", () => {
  it("a port with nothing listening: the judge exits 2 naming ECONNREFUSED, and records nothing", async () => {
    const run = await runFolder("judge-dead");
    const result = await timed(cli(["judge", run, "--judge", "llm-harm", "--endpoint", deadUrl, "--model", "x", "--baseline", "base", "-q"], root));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot judge with llm-harm:`);
    expect(result.stderr).toMatch(/ECONNREFUSED: connection refused: nothing is listening there/);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(result.seconds).toBeLessThan(10);
    expect(await readFile(join(run, "judgments", "llm-harm.jsonl"), "utf8").catch(() => "")).toBe("");
  });

  it("HTTP 401: says the key in the named variable was refused, or that none was sent", async () => {
    const server = await new StubServer(() => ({ kind: "reply" }), { apiKey: "right-key" }).start();
    try {
      const run = await runFolder("judge-401");
      const wrong = await cli(["judge", run, "--judge", "llm-harm", "--endpoint", server.url, "--model", "x", "--api-key-env", "JUDGE_KEY", "--baseline", "base"], root, { JUDGE_KEY: "wrong-key" });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/HTTP 401: the server refused the API key in JUDGE_KEY/);
      expect(wrong.stderr).not.toContain("wrong-key");
      const none = await cli(["judge", run, "--judge", "llm-harm", "--endpoint", server.url, "--model", "x", "--baseline", "base"], root);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/HTTP 401: the server wants an API key and none was sent \(name the variable holding it with api_key_env \/ --api-key-env\)/);
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.stop();
    }
  });

  it("a model the server does not serve: generate exits 2 and lists what it serves", async () => {
    const server = await new StubServer(() => ({ kind: "reply" }), { models: ["served-model"] }).start();
    try {
      const result = await cli(["generate", "--endpoint", server.url, "--model", "ghost", "--dataset", REDTEAM, "--out", join(root, "gen-404")], root);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`does not serve model "ghost"; it serves "served-model"`);
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.stop();
    }
  });

  it("an endpoint without its scheme exits 2 with the fix, not a stack trace", async () => {
    const result = await cli(["generate", "--endpoint", "localhost:8000/v1", "--model", "m", "--dataset", REDTEAM, "--out", join(root, "gen-scheme")], root);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`"localhost:8000/v1" is not an http(s) URL: write it with its scheme, e.g. http://localhost:8000/v1`);
    expect(result.stderr).not.toMatch(/TypeError|\n\s+at /);
  });

  it("run and its dry run probe every endpoint first: a dead judge stops the run before any generation", async () => {
    const server = await new StubServer().start();
    try {
      const dir = await folder("run-dead-judge", {
        "experiment.yml": `name: dead-judge
languages: [en]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { endpoint: ${server.url}, model: base, role: base }
  merged: { endpoint: ${server.url}, model: merged, role: expert }
judges:
  harm: { name: llm-harm, endpoint: ${deadUrl}, model: judge }
  preference: { name: chrf }
`,
      });
      const dry = await cli(["run", "experiment.yml", "--dry-run"], dir);
      expect(dry.code).toBe(2);
      expect(dry.stdout).toMatch(/problem: judges\.harm \(llm-harm:judge\): http:\/\/127\.0\.0\.1:\d+\/v1: ECONNREFUSED/);
      const run = await timed(cli(["run", "experiment.yml", "--out", "run", "-q"], dir));
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/cannot start, nothing was run:\n\s+- judges\.harm \(llm-harm:judge\)/);
      expect(run.seconds).toBeLessThan(15);
      expect(server.requests).toHaveLength(0);
      expect(existsSync(join(dir, "run", "generations"))).toBe(false);
    } finally {
      await server.stop();
    }
  });

  it("a missing model folder is reported before any merge runs", async () => {
    const dir = await folder("run-missing-folder", {
      "experiment.yml": `name: missing
languages: [en]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { path: models/base, role: base }
  general: { path: models/general, role: expert }
merges:
  lin: { recipe: { merge_method: linear, models: [{ model: base }, { model: general }] } }
judges: { harm: { name: refusal }, preference: { name: chrf } }
`,
    });
    const result = await cli(["run", "experiment.yml", "--out", "run"], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("models.base.path: not found: models/base");
    expect(result.stderr).toContain("models.general.path: not found: models/general");
    expect(existsSync(join(dir, "run", "merges"))).toBe(false);
  });

  it("a dry run of the paper experiment says which published files it expects and where to read how to get them", async () => {
    const result = await cli(["run", "experiments/paper-dpo.yml", "--dry-run"], resolve("."));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/datasets\.redteam: not found: datasets\/full\/aya-redteaming-6lang\.jsonl — expected the Aya Red-teaming prompts \(CohereForAI\/aya_redteaming/);
    expect(result.stderr).toMatch(/datasets\.general: not found: .* multilingual Dolly-200 \(CohereForAI\/aya_evaluation_suite/);
    expect(result.stderr).toContain(`see datasets/README.md, "Running on the full sets"`);
  });
});

describe("endpoints that die mid-run: failures counted as failures, causes grouped, the rest reported", () => {
  it("judge: a judge server that goes away exits 1, counts failures apart from verdicts and stops sending at once", async () => {
    const server = await dyingServer(3, () => ({ kind: "reply", text: "[[SAFE]]" }));
    const run = await runFolder("judge-dying");
    const result = await timed(cli(["judge", run, "--judge", "llm-harm", "--endpoint", server.url, "--model", "x", "--baseline", "base", "--concurrency", "1"], root));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/llm-harm: 3 judged, 5 failed →/);
    expect(result.stderr).toMatch(/5 judgment\(s\) failed .*:\n\s+\d+ × http:\/\/127\.0\.0\.1:\d+: /);
    expect(result.stderr).toMatch(/ECONNREFUSED|not sent after \d+ connection failures/);
    expect(result.stderr).toContain("rerun the same command to retry only those");
    // A breaker, not 5 prompts × 6 attempts with backoff.
    expect(result.seconds).toBeLessThan(20);
    const records = (await readFile(join(run, "judgments", "llm-harm.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { status: string });
    expect(records.filter((r) => r.status === "done")).toHaveLength(3);
    expect(records.filter((r) => r.status === "error")).toHaveLength(5);
  }, 60_000);

  it("run: a model whose server dies is reported incomplete (never zero), the others in full, exit 1", async () => {
    const healthy = await new StubServer((prompt) => ({ kind: "reply", text: prompt.length % 2 ? "I'm sorry, I can't." : "Sure." })).start();
    const dying = await dyingServer(2);
    try {
      const dir = await folder("run-dying", {
        "experiment.yml": `name: dying
languages: [en, fr]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { endpoint: ${healthy.url}, model: base, role: base }
  mix15: { endpoint: ${healthy.url}, model: mix15, role: baseline, safety_mix: 15, reference: true }
  flaky: { endpoint: ${dying.url}, model: flaky, role: expert }
generation: { concurrency: 1, max_tokens: 8 }
judges: { harm: { name: refusal }, preference: { name: chrf } }
`,
      });
      const result = await timed(cli(["run", "experiment.yml", "--out", "run", "-q"], dir));
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/generate flaky: 8 failed: \d+ × http:\/\/127\.0\.0\.1:\d+: /);
      expect(result.stderr).toContain("The report covers what finished and marks the rest incomplete");
      expect(result.stdout).toMatch(/report \(incomplete\): /);
      expect(result.seconds).toBeLessThan(30);
      const report = JSON.parse(await readFile(join(dir, "run", "report", "report.json"), "utf8")) as Report;
      expect(report.models.base!.overall.missing).toBeUndefined();
      expect(report.models.mix15!.overall.missing).toBeUndefined();
      // 6 red-team + 4 general prompts over en and fr; 2 of them were answered before the server went away.
      expect(report.models.flaky!.overall.missing).toEqual({ redteam: expect.any(Number), general: expect.any(Number) });
      const { redteam, general } = report.models.flaky!.overall.missing!;
      expect(redteam + general).toBe(8);
      expect(report.models.flaky!.overall.n_redteam + report.models.flaky!.overall.n_general).toBe(2);
      expect(report.notes[0]).toMatch(/^INCOMPLETE: the run could not finish flaky \(/);
      const md = await readFile(join(dir, "run", "report", "report.md"), "utf8");
      expect(md).toMatch(/\| flaky \|.*\*\*incomplete\*\*/);
      // The gate never passes on an incomplete run.
      const gate = await cli(["gate", "run/report/report.json", "run/report/report.json", "--baseline-model", "mix15", "--candidate-model", "flaky", "--max-harm-increase", "100", "--max-winrate-drop", "100"], dir);
      expect(gate.code).toBe(1);
      expect(gate.stdout + gate.stderr).toMatch(/INCOMPLETE: flaky in .* is missing/);
    } finally {
      await healthy.stop();
      await dying.stop();
    }
  }, 90_000);
});

describe("budgets count every request", () => {
  it("a judge that always answers garbage never takes the run past judge_calls (re-asks count)", async () => {
    const server = await new StubServer((prompt) => (prompt.includes("[[HARMFUL]]") ? { kind: "reply", text: "I cannot decide." } : { kind: "reply", text: `reply: ${prompt}` })).start();
    try {
      const dir = await folder("budget-garbage", {
        "experiment.yml": `name: garbage
languages: [en]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
models:
  base: { endpoint: ${server.url}, model: base, role: base }
  merged: { endpoint: ${server.url}, model: merged, role: expert }
judges:
  harm: { name: llm-harm, endpoint: ${server.url}, model: judge, concurrency: 1 }
  preference: { name: chrf }
budget: { judge_calls: 5 }
`,
      });
      const result = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
      expect(result.code).toBe(3);
      const judgeRequests = server.requests.filter((r) => r.prompt.includes("[[HARMFUL]]"));
      expect(judgeRequests.length).toBeLessThanOrEqual(5);
      expect(judgeRequests.length).toBe(5);
    } finally {
      await server.stop();
    }
  });
});

describe("bad dataset rows", () => {
  it("are counted in the report (file and number) and made fatal by --strict or strict: true", async () => {
    const lines = (await readFile(GENERAL, "utf8")).trim().split("\n");
    const dir = await folder("bad-rows", { "dolly.jsonl": [...lines.slice(0, 3), "{ not json", ...lines.slice(3)].join("\n") + "\n" });
    const server = await new StubServer().start();
    try {
      const experiment = (strict: boolean) => `name: rows
languages: [en]
datasets: { redteam: ${REDTEAM}, general: dolly.jsonl }
models:
  base: { endpoint: ${server.url}, model: base, role: base }
  merged: { endpoint: ${server.url}, model: merged, role: expert }
judges: { harm: { name: refusal }, preference: { name: chrf } }
${strict ? "strict: true" : ""}
`;
      await writeFile(join(dir, "experiment.yml"), experiment(false));
      const lenient = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
      expect(lenient.code).toBe(0);
      expect(lenient.stderr).toMatch(/warning: skipped row dolly\.jsonl:4: /);
      const report = JSON.parse(await readFile(join(dir, "run", "report", "report.json"), "utf8")) as Report;
      expect(report.skipped_rows).toEqual({ "dolly.jsonl": 1 });
      expect(report.notes.some((n) => n.startsWith("1 row(s) of dolly.jsonl were skipped"))).toBe(true);

      const flag = await cli(["run", "experiment.yml", "--out", "run2", "--strict"], dir);
      expect(flag.code).toBe(2);
      expect(flag.stderr).toMatch(/bad dataset rows \(strict\):\n\s+dolly\.jsonl:4: /);
      await writeFile(join(dir, "experiment.yml"), experiment(true));
      expect((await cli(["run", "experiment.yml", "--out", "run3"], dir)).code).toBe(2);
      const dry = await cli(["run", "experiment.yml", "--dry-run"], dir);
      expect(dry.code).toBe(2);
      expect(dry.stdout).toMatch(/problem: bad dataset row \(strict\): dolly\.jsonl:4/);
    } finally {
      await server.stop();
    }
  });
});
