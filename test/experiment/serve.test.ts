import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../src/report/types.ts";
import { isAlive, type ProcessIdentity } from "../../src/util/process.ts";
import { BIN, runCli } from "../run-cli.ts";
import { groupAlive, killLeftovers, mostAtOnce, STUB, stubLives } from "../serve/stub-processes.ts";

/**
 * Servers mergeval starts itself (`servers:` profiles), through the real CLI, with the loopback stub as the served
 * program in place of vLLM: started through the profile's template on a free port, polled until it lists the
 * model, generated on, stopped. No GPU, a few seconds a test.
 */

const REDTEAM = resolve("datasets/aya-redteaming-sample.jsonl");
const GENERAL = resolve("datasets/dolly-200-sample.jsonl");

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-serve-"));
});
afterAll(async () => {
  // The safety net: no stub may outlive the tests; any found alive fails this check after being killed.
  const leftovers = killLeftovers(root);
  await rm(root, { recursive: true, force: true });
  expect(leftovers).toEqual([]);
});

const cli = (args: string[], cwd: string) => runCli(args, { cwd, env: { ...process.env, MERGEVAL_CACHE: join(root, "cache") } });

/** A study folder: the experiment file, and an empty folder per served model (the stub loads nothing). */
async function study(name: string, experiment: string, folders: string[] = []): Promise<string> {
  const dir = join(root, name);
  for (const f of folders) await mkdir(join(dir, f), { recursive: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "experiment.yml"), experiment);
  return dir;
}

const header = (name: string) => `name: ${name}
languages: [en]
datasets: { redteam: ${REDTEAM}, general: ${GENERAL} }
limit: 2
generation: { max_tokens: 8, concurrency: 1 }
judges: { harm: { name: refusal }, preference: { name: chrf } }
`;

const pidFiles = (dir: string) => (existsSync(join(dir, "run", "servers")) ? readdirSync(join(dir, "run", "servers")).filter((f) => f.endsWith(".pid")) : []);
const report = async (dir: string) => JSON.parse(await readFile(join(dir, "run", "report", "report.json"), "utf8")) as Report;

describe("a study whose models are all served by servers mergeval starts", () => {
  it("a sweep: each point's server is started, generated on and stopped before the next; a rerun starts none", async () => {
    const dir = await study(
      "sweep",
      `${header("sweep")}fixtures: models
servers:
  stub:
    command: ${STUB} --port {port} --model {model}
    startup_timeout_s: 20
models:
  base: { path: models/base, role: base, serve: stub }
  general: { path: models/general, role: [baseline, expert], safety_mix: 0 }
  safety: { path: models/safety, role: [baseline, expert], safety_mix: 100 }
merges:
  lin:
    recipe:
      merge_method: linear
      models: [{ model: general, parameters: { weight: "\${1-w}" } }, { model: safety, parameters: { weight: "\${w}" } }]
    sweep: { w: [0.2, 0.8] }
    serve: stub
`,
    );
    const served = ["base", "lin-w0.2", "lin-w0.8"];
    const dry = await cli(["run", "experiment.yml", "--out", "run", "--dry-run"], dir);
    expect(dry.code).toBe(0);
    const listed = dry.stdout.split("\n").filter((l) => l.startsWith("  generate "));
    expect(listed.map((l) => l.split(" ")[3])).toEqual(served);
    expect(listed[1]).toBe(`  generate lin-w0.2 (stub, gpu 0): ${STUB} --port {port} --model lin-w0.2`);

    const result = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    // The local experts first; then one server after another: started, ready, generated, stopped.
    const steps = result.stdout.split("\n").filter((l) => /^(server|generate) /.test(l)).map((l) => l.replace(/ on port \d+.*| after [\d.]+ s|: \d+ new.*/, ""));
    expect(steps).toEqual(["generate general", "generate safety", ...served.flatMap((m) => [`server ${m}: starting`, `server ${m}: ready`, `generate ${m}`, `server ${m}: stopped`])]);
    const lives = stubLives(join(dir, "run", "servers"));
    expect(lives.map((l) => l.answered)).toEqual([4, 4, 4]);
    expect(mostAtOnce(lives)).toBe(1);
    expect(lives.every((l) => !groupAlive(l.pid))).toBe(true);
    expect(pidFiles(dir)).toEqual([]);
    const r = await report(dir);
    expect(Object.keys(r.models)).toEqual(["base", "general", "safety", "lin-w0.2", "lin-w0.8"]);
    expect(r.models["lin-w0.8"]!.sweep).toEqual({ w: 0.8 });
    for (const m of Object.values(r.models)) expect(m.overall.missing).toBeUndefined();
    expect((await readFile(join(dir, "run", "generations", "lin-w0.2.jsonl"), "utf8"))).toContain('"output":"lin-w0.2: ');

    // Cached models start no server.
    const again = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/^server /m);
    expect(again.stdout).toMatch(/^generate lin-w0\.8: 0 new, 4 cached$/m);
  }, 60_000);

  it("parallel: 2 keeps two servers busy at once, each on its own port and {gpu}", async () => {
    const dir = await study(
      "parallel",
      `${header("parallel")}servers:
  stub:
    command: ${STUB} --port {port} --model {model} --delay-ms 150
    startup_timeout_s: 20
    parallel: 2
models:
  base: { path: w/base, role: base, serve: stub }
  a: { path: w/a, role: expert, serve: stub }
  b: { path: w/b, role: expert, serve: stub }
  c: { path: w/c, role: expert, serve: stub }
`,
      ["w/base", "w/a", "w/b", "w/c"],
    );
    const result = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(result.code).toBe(0);
    const lives = stubLives(join(dir, "run", "servers"));
    expect(lives).toHaveLength(4);
    expect(mostAtOnce(lives)).toBe(2);
    expect(new Set(lives.map((l) => l.gpu))).toEqual(new Set(["0", "1"]));
    // The two started first ran side by side, on different ports.
    const [first, second] = [...lives].sort((x, y) => x.started - y.started);
    expect(second!.started).toBeLessThan(first!.stopped!);
    expect(first!.port).not.toBe(second!.port);
    expect(result.stdout.indexOf("server a: starting")).toBeLessThan(result.stdout.indexOf("server base: stopped"));
    expect(lives.every((l) => !groupAlive(l.pid))).toBe(true);
    expect(pidFiles(dir)).toEqual([]);
  }, 60_000);
});

describe("servers that fail: the model is named with how its server ended and its log's last lines; the others go on", () => {
  it("a server that crashes at start-up and one never ready: exit 1, both reported incomplete, nothing left running", async () => {
    const dir = await study(
      "failing",
      `${header("failing")}servers:
  stub: { command: "${STUB} --port {port} --model {model}", startup_timeout_s: 20 }
  broken: { command: "${STUB} --port {port} --model {model} --fail-at-start" }
  loading: { command: "${STUB} --port {port} --model {model} --never-ready", startup_timeout_s: 1, stop_timeout_s: 2 }
models:
  base: { path: w/base, role: base, serve: stub }
  crashy: { path: w/crashy, role: expert, serve: broken }
  stuck: { path: w/stuck, role: expert, serve: loading }
  fine: { path: w/fine, role: expert, serve: stub }
`,
      ["w/base", "w/crashy", "w/stuck", "w/fine"],
    );
    const result = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^generate crashy: server for crashy \(profile broken, port \d+\) exited with code 1 before it was ready; last lines of run\/servers\/crashy\.log:\n.*\n.*loading crashy\n\s+\| stub: error: simulated failure at start-up/m);
    expect(result.stderr).toMatch(/^generate stuck: server for stuck \(profile loading, port \d+\) was not ready within 1 s \(GET \/v1\/models: HTTP 503 .*still loading.*\); stopped it; last lines of run\/servers\/stuck\.log:\n(.*\n)*\s+\| stub \d+ SIGTERM after 0 completions/m);
    expect(result.stdout).toMatch(/^generate fine: 4 new, 0 cached$/m);
    const r = await report(dir);
    expect(r.models.crashy!.overall.missing).toEqual({ redteam: 2, general: 2 });
    expect(r.models.stuck!.overall.missing).toEqual({ redteam: 2, general: 2 });
    expect(r.models.fine!.overall.missing).toBeUndefined();
    expect(r.notes[0]).toMatch(/^INCOMPLETE: the run could not finish crashy .*, stuck /);
    expect(stubLives(join(dir, "run", "servers")).every((l) => !groupAlive(l.pid))).toBe(true);
    expect(pidFiles(dir)).toEqual([]);
  }, 60_000);

  it("a server that dies mid-generation: what it answered is kept, the rest is made by the next run", async () => {
    const dir = await study(
      "dying",
      `${header("dying")}servers:
  stub: { command: "${STUB} --port {port} --model {model}", startup_timeout_s: 20 }
  dying: { command: "${STUB} --port {port} --model {model} --die-after 2", startup_timeout_s: 20 }
models:
  base: { path: w/base, role: base, serve: stub }
  flaky: { path: w/flaky, role: expert, serve: dying }
`,
      ["w/base", "w/flaky"],
    );
    const first = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/^generate flaky: 2 new, 0 cached$/m);
    expect(first.stderr).toMatch(/^generate flaky: server for flaky \(profile dying, port \d+\) exited with code 3 while generating \(2 prompt\(s\) left unanswered: a rerun makes them\); last lines of run\/servers\/flaky\.log:\n(.*\n)*\s+\| stub \d+ simulated crash after 2 completions/m);
    expect((await report(dir)).models.flaky!.overall.missing).toEqual({ redteam: expect.any(Number), general: expect.any(Number) });
    const second = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toMatch(/^server base/m);
    expect(second.stdout).toMatch(/^generate flaky: 2 new, 2 cached$/m);
    expect((await report(dir)).models.flaky!.overall.missing).toBeUndefined();
    expect(stubLives(join(dir, "run", "servers")).every((l) => !groupAlive(l.pid))).toBe(true);
  }, 60_000);
});

describe("checks before any work", () => {
  it("a profile whose program is not installed stops the run before any work, naming the key; servers are not probed", async () => {
    const dir = await study(
      "not-installed",
      `${header("not-installed")}servers:
  vllm: { command: "vllm-not-installed-here serve {path} --port {port}" }
  stub: { command: "${STUB} --port {port} --model {model}" }
models:
  base: { path: w/base, role: base, serve: stub }
  m: { path: w/m, role: expert, serve: vllm }
`,
      ["w/base", "w/m"],
    );
    const problem = `experiment.yml: servers.vllm.command: "vllm-not-installed-here" is not found on PATH (is it installed in this environment?)`;
    const dry = await cli(["run", "experiment.yml", "--out", "run", "--dry-run"], dir);
    expect(dry.code).toBe(2);
    expect(dry.stdout).toContain(`problem: ${problem}`);
    // The stub profile's server is not running, and that is no problem: it is checked when it starts.
    expect(dry.stdout.split("\n").filter((l) => l.startsWith("problem: "))).toHaveLength(1);
    const run = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot start, nothing was run:\n  - ${problem}`);
    expect(existsSync(join(dir, "run", "servers"))).toBe(false);
  }, 60_000);
});

describe("mergeval stopped from outside", () => {
  const slowStudy = (name: string) =>
    study(
      name,
      `${header(name)}servers:
  slow: { command: "${STUB} --port {port} --model {model} --delay-ms 1500", startup_timeout_s: 20, stop_timeout_s: 2 }
models:
  base: { path: w/base, role: base, serve: slow }
`.replace("concurrency: 1", "concurrency: 4"),
      ["w/base"],
    );

  /** Starts `mergeval run` and resolves once its server is ready and generating, with the server as RUN/servers/ records it. */
  async function runUntilGenerating(dir: string): Promise<{ child: ChildProcess; server: ProcessIdentity; exited: Promise<number | null> }> {
    const child = spawn(process.execPath, [BIN, "run", "experiment.yml", "--out", "run", "-q"], { cwd: dir, env: { ...process.env, MERGEVAL_CACHE: join(root, "cache") } });
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    let out = "";
    await new Promise<void>((ready, fail) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (/server base: ready/.test(out)) ready();
      });
      void exited.then(() => fail(new Error(`mergeval ended before its server was ready:\n${out}`)));
    });
    const record = JSON.parse(await readFile(join(dir, "run", "servers", "base.pid"), "utf8")) as { server: ProcessIdentity };
    return { child, server: record.server, exited };
  }

  it.each(["SIGINT", "SIGTERM"] as const)("%s (Ctrl-C or kill) during a served generation stops the server (checked by its recorded pid) and exits 130", async (signal) => {
    const dir = await slowStudy(`interrupted-${signal}`);
    const { child, server, exited } = await runUntilGenerating(dir);
    expect(isAlive(server)).toBe(true);
    child.kill(signal);
    expect(await exited).toBe(130);
    expect(isAlive(server)).toBe(false);
    expect(groupAlive(server.pid)).toBe(false);
    expect(pidFiles(dir)).toEqual([]);
  }, 60_000);

  it("a rerun after kill -9 stops the server the killed run left, then finishes", async () => {
    const dir = await slowStudy("killed");
    const { child, server, exited } = await runUntilGenerating(dir);
    child.kill("SIGKILL");
    await exited;
    // Killed outright, mergeval could stop nothing: its server still holds its port.
    expect(isAlive(server)).toBe(true);
    const rerun = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(new RegExp(`^server base: stopped the server an earlier run left on port \\d+ \\(pid ${server.pid}, SIGTERM\\)$`, "m"));
    expect(isAlive(server)).toBe(false);
    expect(rerun.stdout).toMatch(/^generate base: 4 new, 0 cached$/m);
    expect(stubLives(join(dir, "run", "servers")).every((l) => !groupAlive(l.pid))).toBe(true);
    expect(pidFiles(dir)).toEqual([]);
  }, 60_000);
});

describe("served judges", () => {
  it("start after generation and stop after judging; their verdicts are cached across ports", async () => {
    const dir = await study(
      "judge",
      `${header("judge")}servers:
  stub: { command: "${STUB} --port {port} --model {model}", startup_timeout_s: 20 }
  guard: { command: "${STUB} --port {port} --model {model} --reply [[SAFE]]", startup_timeout_s: 20 }
models:
  base: { path: w/base, role: base, serve: stub }
  m: { path: w/m, role: expert, serve: stub }
`.replace("harm: { name: refusal }", "harm: { name: llm-harm, path: w/guard, serve: guard }"),
      ["w/base", "w/m", "w/guard"],
    );
    const dry = await cli(["run", "experiment.yml", "--out", "run", "--dry-run"], dir);
    expect(dry.stdout).toContain(`  judge llm-harm:guard (guard, gpu 0): ${STUB} --port {port} --model guard --reply '[[SAFE]]'`);
    const result = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^server judge-guard: starting/)).toBeGreaterThan(at(/^server m: stopped/));
    expect(at(/^judge llm-harm:guard: 4 judged/)).toBeLessThan(at(/^server judge-guard: stopped/));
    expect(at(/^server judge-guard: stopped/)).toBeLessThan(at(/^judge chrf/));
    const r = await report(dir);
    expect(r.models.m!.overall.harmful_rate).toBe(0);
    const again = await cli(["run", "experiment.yml", "--out", "run", "-q"], dir);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/^server /m);
    expect(again.stdout).toMatch(/^judge llm-harm:guard: 0 judged, 4 from earlier runs$/m);
  }, 60_000);
});
