import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sample } from "../datasets/index.ts";
import { FAMILY, writeFixtureFamily } from "../fixtures/family.ts";
import { generate, type GenerationRecord } from "../generate/index.ts";
import { judgeSummaryLine, pendingJudgments, runJudge, type JudgeRunSummary } from "../judge/run.ts";
import { runMerge } from "../merge/index.ts";
import { InputError } from "../errors.ts";
import { sortByKey } from "../util/order.ts";
import { buildReport, writeReport, type Report } from "../report/index.ts";
import { runPool } from "../serve/pool.ts";
import type { ServeSpec } from "../serve/profile.ts";
import { cleanStaleServers } from "../serve/registry.ts";
import { ServerError, ServerProcess } from "../serve/server.ts";
import { Budget, estimateTokens, judgeCallTokens } from "./budget.ts";
import { decodingFor } from "./decoding.ts";
import type { Experiment, ExperimentModel, PanelMember } from "./load.ts";
import { checkWork, missingFiles, servedByProfile } from "./checks.ts";
import { preflight, type Preflight } from "./preflight.ts";
import { loadExperimentSamples } from "./samples.ts";

export interface RunHooks {
  log: (line: string) => void;
  warn: (line: string) => void;
  signal?: AbortSignal;
  /** Long steps (a merge, a model's generations, a judge's verdicts): for progress bars. */
  onStepStart?: (label: string, total: number, unit: "items" | "bytes") => void;
  onStepTick?: (amount: number) => void;
  onStepEnd?: () => void;
  /** `mergeval report`: rebuild the report from the run folder only; missing work is an error, never done. */
  reportOnly?: boolean;
  /** Stop after the merges (to serve them, e.g. with vLLM, before generating). */
  mergeOnly?: boolean;
  /** A bad dataset row is fatal (as `strict: true` in the experiment). */
  strict?: boolean;
}

export type RunOutcome =
  | { status: "done"; report: Report; files: string[] }
  /** Some generations or judgments failed (recorded as errors): the report covers the rest; a rerun retries only those. */
  | { status: "incomplete"; report: Report; files: string[]; message: string }
  | { status: "failed"; message: string }
  | { status: "budget"; message: string }
  | { status: "interrupted" }
  | { status: "merged"; merges: string[] };

/**
 * merge → generate → judge → report. Every stage reuses what the run folder already holds (merges whose recipe is
 * unchanged, cached generations and judgments), so a killed run resumes where it stopped and ends with the same
 * report as an uninterrupted one.
 */
export async function runExperiment(experiment: Experiment, hooks: RunHooks): Promise<RunOutcome> {
  const { spec, runDir } = experiment;
  await mkdir(runDir, { recursive: true });
  if (!hooks.reportOnly) await copyFile(experiment.file, join(runDir, "experiment.yml"));
  if (spec.fixtures && !hooks.reportOnly) {
    await writeFixtureFamily(spec.fixtures, FAMILY);
    hooks.log(`fixtures: wrote the bundled family (tiny untrained models) to ${spec.fixtures}`);
  }
  const missing = hooks.reportOnly ? [] : missingFiles(experiment);
  if (missing.length) throw new InputError(`cannot start, nothing was run:\n  - ${missing.join("\n  - ")}`);
  const samples = await loadExperimentSamples(experiment);
  if (samples.problems.length && (spec.strict || hooks.strict)) {
    throw new InputError(`bad dataset rows (strict):\n  ${samples.problems.slice(0, 10).join("\n  ")}${samples.problems.length > 10 ? `\n  … ${samples.problems.length - 10} more` : ""}`);
  }
  for (const p of samples.problems.slice(0, 5)) hooks.warn(`skipped row ${p}`);
  if (samples.problems.length > 5) hooks.warn(`… ${samples.problems.length - 5} more rows skipped`);

  let plan: Preflight | undefined;
  if (!hooks.reportOnly) {
    plan = await preflight(experiment, samples);
    const checks = await checkWork(experiment, plan, { dryRun: false });
    checks.warnings.forEach((w) => hooks.warn(w));
    if (checks.problems.length) throw new InputError(`cannot start, nothing was run:\n  - ${checks.problems.join("\n  - ")}`);
    // Servers a run killed outright (kill -9) left holding ports and GPUs.
    await cleanStaleServers(runDir, hooks.log);
  }

  for (const model of experiment.models) {
    if (hooks.signal?.aborted) return { status: "interrupted" };
    if (model.merge && !hooks.reportOnly) await mergeOnce(model, experiment, hooks);
  }

  // Report only: every request is refused, so nothing new is generated or judged and the gaps are counted.
  if (hooks.mergeOnly) return { status: "merged", merges: experiment.models.filter((m) => m.merge).map((m) => m.merge!.outDir) };

  const budget = hooks.reportOnly ? new Budget({ judgeCalls: 0, tokens: 0 }) : new Budget({ ...(spec.budget?.judge_calls !== undefined ? { judgeCalls: spec.budget.judge_calls } : {}), ...(spec.budget?.tokens !== undefined ? { tokens: spec.budget.tokens } : {}) });
  const all = [...samples.redteam, ...samples.general];
  const generated = new Map<string, Generated>();
  // Models with work for a server mergeval starts; cached ones start none.
  const toServe = new Set(plan ? experiment.models.filter((m) => m.backend.kind === "served" && (plan.toGenerate.get(m.name) ?? 0) > 0) : []);
  // First the models that need no server, one at a time in display order; then each server profile's models,
  // `parallel` of them at a time (each server started, generated on and stopped), one profile after another.
  for (const model of experiment.models.filter((m) => !toServe.has(m))) {
    if (hooks.signal?.aborted) return { status: "interrupted" };
    generated.set(model.name, await generateFor(model, all, experiment, budget, hooks));
  }
  for (const [profile, models] of servedByProfile([...toServe])) {
    if (hooks.signal?.aborted) break;
    // Several at once share one progress step.
    const together = Math.min(profile.parallel, models.length) > 1;
    if (together) hooks.onStepStart?.(`generate on ${profile.name} servers (${models.length} models, ${Math.min(profile.parallel, models.length)} at a time)`, models.length * all.length, "items");
    const stepHooks: RunHooks = together ? { ...hooks, onStepStart: undefined, onStepEnd: undefined } : hooks;
    await runPool(models, profile.parallel, async (model, slot) => void generated.set(model.name, await generateOnServer(model, slot, all, experiment, budget, stepHooks)), hooks.signal);
    if (together) hooks.onStepEnd?.();
  }
  if (hooks.signal?.aborted) return { status: "interrupted" };
  const generations = new Map<string, GenerationRecord[]>();
  const failures: string[] = [];
  for (const model of experiment.models) {
    const result = generated.get(model.name)!;
    generations.set(model.name, result.records);
    if (result.failure) failures.push(result.failure);
  }
  if (budget.refused) return budgetStop(budget, spec.budget, hooks.reportOnly);

  // Every judge of each panel; the first one's verdicts are the numbers, the others measure agreement.
  const panels: Record<"harm" | "preference", { label: string; summary: JudgeRunSummary }[]> = { harm: [], preference: [] };
  const judgeServers = new JudgeServers(runDir, hooks);
  try {
    for (const kind of ["harm", "preference"] as const) {
      for (const member of experiment.panels[kind]) {
        const { entry, label } = member;
        const { judge, server, failure } = await judgeFor(member, experiment, generations, judgeServers, hooks);
        if (hooks.signal?.aborted) return { status: "interrupted" };
        if (failure) failures.push(failure);
        // A served judge without its server running (down, or not started: nothing to judge) gives only cached
        // verdicts: the rest stay undone (incomplete), for a rerun.
        const usable = () => !hooks.signal?.aborted && !failure && (member.served === undefined || hooks.reportOnly === true || (server !== undefined && server.ending === undefined));
        const costOf = (shown: readonly string[], calls: number) => (hooks.reportOnly ? { tokens: 1 } : judgeCost(calls, shown));
        const summary = await runJudge({
          runDir,
          judge,
          baseline: experiment.base,
          ...(experiment.reference ? { mix: experiment.reference } : {}),
          generations,
          ...(entry.concurrency ? { concurrency: entry.concurrency } : {}),
          admit: (_, shown) => usable() && budget.admit(costOf(shown, judge.calls)),
          admitExtraCall: (_, shown) => usable() && budget.admit(costOf(shown, 1)),
          onStart: (total) => hooks.onStepStart?.(`judge ${label}`, total, "items"),
          onSettled: () => hooks.onStepTick?.(1),
        });
        hooks.onStepEnd?.();
        if (hooks.signal?.aborted) return { status: "interrupted" };
        hooks.log(`judge ${label}: ${judgeSummaryLine(summary)}`);
        if (server && server.ending !== undefined && !server.stopRequested) failures.push(`judge ${label}: ${(await server.failure(`${server.ending} while judging`)).message}`);
        if (summary.errors) failures.push(`judge ${label}: ${summary.errors} failed: ${summary.causes.lines(3).join("; ")}`);
        panels[kind].push({ label, summary });
      }
    }
  } finally {
    await judgeServers.close();
  }
  const judged = { harm: panels.harm[0]!.summary, preference: panels.preference[0]!.summary };
  if (budget.refused) return budgetStop(budget, spec.budget, hooks.reportOnly);

  const report = buildReport({
    experiment: {
      name: spec.name,
      ...(spec.description ? { description: spec.description } : {}),
      languages: experiment.languages,
      base: experiment.base,
      ...(experiment.reference ? { reference: experiment.reference } : {}),
      fixtures: spec.fixtures !== undefined,
      ...(spec.models_note ? { models_note: spec.models_note } : {}),
      ...(spec.paper ? { paper: spec.paper } : {}),
    },
    generation: {
      max_tokens: spec.generation.max_tokens,
      temperature: spec.generation.temperature,
      ...(spec.generation.seed !== undefined ? { seed: spec.generation.seed } : {}),
      ...(spec.limit !== undefined ? { limit_per_language: spec.limit } : {}),
    },
    models: experiment.models.map((m) => ({
      name: m.name, roles: m.roles, source: m.source,
      ...(m.safetyMix !== undefined ? { safetyMix: m.safetyMix } : {}),
      ...(m.paperRow ? { paperRow: m.paperRow } : {}),
      ...(m.merge ? { method: m.merge.method, ...(m.merge.point ? { point: m.merge.point } : {}), ...(m.merge.seedGroup !== undefined ? { seed: m.merge.seed!, seedGroup: m.merge.seedGroup } : {}) } : {}),
    })),
    judges: experiment.judges,
    harm: judged.harm,
    preference: judged.preference,
    generations,
    expected: { redteam: perLanguage(samples.redteam), general: perLanguage(samples.general) },
    skippedRows: samples.skippedRows,
    pick: spec.pick,
    panels: {
      harm: panels.harm.map((p) => ({ label: p.label, judgments: p.summary.judgments })),
      preference: panels.preference.map((p) => ({ label: p.label, judgments: p.summary.judgments })),
    },
  });
  const files = await writeReport(report, [join(runDir, "report"), ...(spec.report_dir ? [spec.report_dir] : [])]);
  if (failures.length) {
    return { status: "incomplete", report, files, message: `${failures.join("\n")}\nThe report covers what finished and marks the rest incomplete; failures are recorded in ${runDir}: rerun to retry only those.` };
  }
  return { status: "done", report, files };
}

function perLanguage(samples: readonly Sample[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.language, (counts.get(s.language) ?? 0) + 1);
  return counts;
}

/** A merge is redone only when its recipe (which names the seed) differs from the one its folder was made from. */
async function mergeOnce(model: ExperimentModel, experiment: Experiment, hooks: RunHooks): Promise<void> {
  const merge = model.merge!;
  const recipeFile = join(experiment.runDir, "merges", `${model.name}.yml`);
  const madeFrom = await readFile(join(merge.outDir, "mergekit_config.yml"), "utf8").catch(() => undefined);
  if (madeFrom === merge.recipeText) {
    hooks.log(`merge ${model.name}: up to date`);
    return;
  }
  await mkdir(join(experiment.runDir, "merges"), { recursive: true });
  await writeFile(recipeFile, merge.recipeText);
  const started = Date.now();
  const summary = await runMerge({
    configFile: recipeFile, outDir: merge.outDir, force: true, seed: merge.seed ?? experiment.spec.seed, onWarning: hooks.warn,
    onStart: ({ bytes }) => hooks.onStepStart?.(`merge ${model.name}`, bytes, "bytes"),
    onTensor: ({ bytes }) => hooks.onStepTick?.(bytes),
  }).finally(() => hooks.onStepEnd?.());
  hooks.log(`merge ${model.name}: ${summary.method}, ${summary.tensors} tensors → ${summary.outDir} (${Date.now() - started} ms)`);
}

/** A model's completions for the report (cached and new), and why some are missing, if any are. */
interface Generated {
  records: GenerationRecord[];
  failure?: string;
}

/**
 * Starts the model's server, waits until it is ready, generates, stops it. A server that exits or is never ready
 * fails this model only (its cached completions still count); one that exits while generating stops the sending
 * at once, and what it did not answer is left unrecorded for the next run.
 */
async function generateOnServer(model: ExperimentModel, slot: number, samples: Sample[], experiment: Experiment, budget: Budget, hooks: RunHooks): Promise<Generated> {
  const { serve } = model.backend as Extract<ExperimentModel["backend"], { kind: "served" }>;
  const started = await startServer(serve, slot, experiment.runDir, hooks);
  if (!("server" in started)) {
    if (hooks.signal?.aborted) return { records: [] };
    const cached = await generateFor(model, samples, experiment, budget, hooks, { noServer: true });
    return { records: cached.records, failure: `generate ${model.name}: ${started.error.message}` };
  }
  const { server } = started;
  const sending = new AbortController();
  const interrupt = () => sending.abort(hooks.signal!.reason);
  if (hooks.signal?.aborted) interrupt();
  hooks.signal?.addEventListener("abort", interrupt, { once: true });
  let generating = true;
  let died = false;
  void server.exited.then(() => {
    if (!generating || server.stopRequested) return;
    died = true;
    sending.abort(new Error(`the server ${server.ending}`));
  });
  try {
    const result = await generateFor(model, samples, experiment, budget, hooks, { baseUrl: server.baseUrl, signal: sending.signal });
    generating = false;
    if (!died) return result;
    const left = samples.length - result.records.length;
    const error = await server.failure(`${server.ending} while generating (${left} prompt(s) left unanswered: a rerun makes them)`);
    return { records: result.records, failure: `generate ${model.name}: ${error.message}` };
  } finally {
    generating = false;
    hooks.signal?.removeEventListener("abort", interrupt);
    await server.stop();
    hooks.log(`server ${serve.id}: stopped`);
  }
}

/** A started, ready server; or the ServerError saying why not (the server, if it ran, is stopped). */
async function startServer(spec: ServeSpec, slot: number, runDir: string, hooks: RunHooks): Promise<{ server: ServerProcess } | { error: Error }> {
  let server: ServerProcess | undefined;
  try {
    server = await ServerProcess.start(spec, { runDir, slot, log: hooks.log });
    const since = Date.now();
    await server.ready(hooks.signal);
    hooks.log(`server ${spec.id}: ready after ${((Date.now() - since) / 1000).toFixed(1)} s`);
    return { server };
  } catch (err) {
    await server?.stop();
    if (!(err instanceof ServerError) && !hooks.signal?.aborted) throw err;
    if (err instanceof ServerError) hooks.log(`server ${spec.id}: failed: ${err.message.split("\n")[0]!.replace(/; last lines of .*/, "")}`);
    return { error: err as Error };
  }
}

/** The servers of served judges: one at a time, kept for the next judge served the same way, stopped after judging. */
class JudgeServers {
  private current: ServerProcess | undefined;
  constructor(
    private readonly runDir: string,
    private readonly hooks: RunHooks,
  ) {}

  async open(spec: ServeSpec): Promise<{ server: ServerProcess } | { error: Error }> {
    const same = this.current && this.current.spec.path === spec.path && this.current.spec.model === spec.model && this.current.spec.profile === spec.profile;
    if (same && this.current!.ending === undefined) return { server: this.current! };
    await this.close();
    const started = await startServer(spec, 0, this.runDir, this.hooks);
    if ("server" in started) this.current = started.server;
    return started;
  }

  async close(): Promise<void> {
    const server = this.current;
    this.current = undefined;
    if (!server) return;
    await server.stop();
    this.hooks.log(`server ${server.spec.id}: stopped`);
  }
}

/** The judge to run: a served judge with verdicts to make gets its server (started, or kept from the judge before it). */
async function judgeFor(
  member: PanelMember,
  experiment: Experiment,
  generations: Map<string, GenerationRecord[]>,
  servers: JudgeServers,
  hooks: RunHooks,
): Promise<{ judge: PanelMember["judge"]; server?: ServerProcess; failure?: string }> {
  const { served, judge, label } = member;
  // A judge that needs no server: the one before it, if served, is done.
  if (!served || hooks.reportOnly || (await pendingJudgments(experiment.runDir, judge, experiment.base, generations)) === 0) {
    await servers.close();
    return { judge };
  }
  const opened = await servers.open(served.serve);
  if ("error" in opened) return { judge, failure: `judge ${label}: ${opened.error.message}` };
  return { judge: served.connect(opened.server.baseUrl), server: opened.server };
}

async function generateFor(
  model: ExperimentModel,
  samples: Sample[],
  experiment: Experiment,
  budget: Budget,
  hooks: RunHooks,
  /**
   * Served models: the running server's URL (none: only cached completions are taken), what stops the sending,
   * and `noServer` when its server failed (that failure is the model's, said by the caller).
   */
  served: { baseUrl?: string; signal?: AbortSignal; noServer?: boolean } = {},
): Promise<Generated> {
  const { generation } = experiment.spec;
  const records: GenerationRecord[] = [];
  const { backend } = model;
  const paid = backend.kind === "openai" || backend.kind === "served";
  const signal = served.signal ?? hooks.signal;
  hooks.onStepStart?.(`generate ${model.name}`, samples.length, "items");
  const options = {
    runDir: experiment.runDir,
    model: model.name,
    samples,
    decoding: decodingFor(generation),
    ...(generation.concurrency ? { concurrency: generation.concurrency } : {}),
    ...(generation.timeout_s ? { timeoutMs: generation.timeout_s * 1000 } : {}),
    ...(generation.system ? { system: generation.system } : {}),
    ...(signal ? { signal } : {}),
    // Local models cost nothing; endpoint tokens count against the budget (prompt estimate + the completion cap).
    ...(hooks.reportOnly ? { admit: () => budget.admit({ tokens: 1 }) } : {}),
    ...(paid && !hooks.reportOnly ? { admit: (_: Sample, messages: { content: string }[]) => budget.admit({ tokens: estimateTokens(messages.map((m) => m.content).join("\n")) + generation.max_tokens }) } : {}),
    // A served model without its server takes what is cached and asks for nothing.
    ...(backend.kind === "served" && !served.baseUrl && !hooks.reportOnly ? { admit: () => false } : {}),
    onWarning: hooks.warn,
    onRecord: (record: GenerationRecord) => {
      if (record.status === "done") records.push(record);
      hooks.onStepTick?.(1);
    },
  };
  const result =
    backend.kind === "served"
      ? await generate({
          ...options,
          // Never asked when no server runs: admit refuses every request before the runner probes the endpoint.
          backend: { kind: "openai", baseUrls: [served.baseUrl ?? "http://127.0.0.1:9/v1"], model: backend.serve.model },
          fingerprint: backend.fingerprint,
        })
      : await generate({ ...options, backend });
  hooks.onStepEnd?.();
  // Without its server, a served model only takes what is cached: the rest is its server's failure, said apart.
  const unserved = backend.kind === "served" && !served.baseUrl && !hooks.reportOnly ? result.skipped : 0;
  if (!served.noServer) {
    hooks.log(`generate ${model.name}: ${result.done} new, ${result.cached} cached${result.errors ? `, ${result.errors} failed` : ""}${result.skipped && !unserved ? `, ${result.skipped} left for later` : ""}`);
  }
  // Completion order varies; the report must not.
  sortByKey(records, (r) => `${r.dataset}\u0000${r.language}\u0000${r.id}`);
  const failures = [
    ...(result.errors ? [`${result.errors} failed: ${result.causes.lines(3).join("; ")}`] : []),
    ...(unserved && !served.noServer ? [`${unserved} prompt(s) need its server, which was not started (the run folder changed since the run began?)`] : []),
  ];
  return { records, ...(failures.length ? { failure: `generate ${model.name}: ${failures.join("; ")}` } : {}) };
}

function judgeCost(calls: number, shown: readonly string[]): { judgeCalls: number; tokens: number } {
  if (calls === 0) return { judgeCalls: 0, tokens: 0 };
  return { judgeCalls: calls, tokens: calls * judgeCallTokens(estimateTokens(shown.join(""))) };
}

function budgetStop(budget: Budget, limits: { judge_calls?: number | undefined; tokens?: number | undefined } | undefined, reportOnly = false): RunOutcome {
  if (reportOnly) return { status: "failed", message: `the run folder is incomplete (${budget.refused} generations or judgments missing): finish it with \`mergeval run\`` };
  const caps = [limits?.judge_calls !== undefined ? `${budget.judgeCalls}/${limits.judge_calls} judge calls` : "", limits?.tokens !== undefined ? `${budget.tokens}/${limits.tokens} estimated tokens` : ""].filter(Boolean).join(", ");
  return {
    status: "budget",
    message: `budget reached (${caps} used this run); ${budget.refused} requests left undone. Finished work is kept: raise budget: in the experiment file and rerun to continue.`,
  };
}
