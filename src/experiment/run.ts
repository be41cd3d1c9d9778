import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sample } from "../datasets/index.ts";
import { FAMILY, writeFixtureFamily } from "../fixtures/family.ts";
import { generate, type GenerationRecord } from "../generate/index.ts";
import { judgeSummaryLine, runJudge, type JudgeRunSummary } from "../judge/run.ts";
import { runMerge } from "../merge/index.ts";
import { InputError } from "../errors.ts";
import { Causes } from "../util/causes.ts";
import { sortByKey } from "../util/order.ts";
import { buildReport, writeReport, type Report } from "../report/index.ts";
import { Budget, estimateTokens, judgeCallTokens } from "./budget.ts";
import { decodingFor } from "./decoding.ts";
import type { Experiment, ExperimentModel } from "./load.ts";
import { checkWork, missingFiles } from "./checks.ts";
import { preflight } from "./preflight.ts";
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

  if (!hooks.reportOnly) {
    const checks = await checkWork(experiment, await preflight(experiment, samples), { dryRun: false });
    checks.warnings.forEach((w) => hooks.warn(w));
    if (checks.problems.length) throw new InputError(`cannot start, nothing was run:\n  - ${checks.problems.join("\n  - ")}`);
  }

  for (const model of experiment.models) {
    if (hooks.signal?.aborted) return { status: "interrupted" };
    if (model.merge && !hooks.reportOnly) await mergeOnce(model, experiment, hooks);
  }

  // Report only: every request is refused, so nothing new is generated or judged and the gaps are counted.
  if (hooks.mergeOnly) return { status: "merged", merges: experiment.models.filter((m) => m.merge).map((m) => m.merge!.outDir) };

  const budget = hooks.reportOnly ? new Budget({ judgeCalls: 0, tokens: 0 }) : new Budget({ ...(spec.budget?.judge_calls !== undefined ? { judgeCalls: spec.budget.judge_calls } : {}), ...(spec.budget?.tokens !== undefined ? { tokens: spec.budget.tokens } : {}) });
  const generations = new Map<string, GenerationRecord[]>();
  const failures: string[] = [];
  for (const model of experiment.models) {
    const result = await generateFor(model, [...samples.redteam, ...samples.general], experiment, budget, hooks);
    if (hooks.signal?.aborted) return { status: "interrupted" };
    generations.set(model.name, result.records);
    if (result.errors) failures.push(`generate ${model.name}: ${result.errors} failed: ${result.causes.lines(3).join("; ")}`);
  }
  if (budget.refused) return budgetStop(budget, spec.budget, hooks.reportOnly);

  // Every judge of each panel; the first one's verdicts are the numbers, the others measure agreement.
  const panels: Record<"harm" | "preference", { label: string; summary: JudgeRunSummary }[]> = { harm: [], preference: [] };
  for (const kind of ["harm", "preference"] as const) {
    for (const { judge, entry, label } of experiment.panels[kind]) {
      const costOf = (shown: readonly string[], calls: number) => (hooks.reportOnly ? { tokens: 1 } : judgeCost(calls, shown));
      const summary = await runJudge({
        runDir,
        judge,
        baseline: experiment.base,
        ...(experiment.reference ? { mix: experiment.reference } : {}),
        generations,
        ...(entry.concurrency ? { concurrency: entry.concurrency } : {}),
        admit: (_, shown) => !hooks.signal?.aborted && budget.admit(costOf(shown, judge.calls)),
        admitExtraCall: (_, shown) => !hooks.signal?.aborted && budget.admit(costOf(shown, 1)),
        onStart: (total) => hooks.onStepStart?.(`judge ${label}`, total, "items"),
        onSettled: () => hooks.onStepTick?.(1),
      });
      hooks.onStepEnd?.();
      if (hooks.signal?.aborted) return { status: "interrupted" };
      hooks.log(`judge ${label}: ${judgeSummaryLine(summary)}`);
      if (summary.errors) failures.push(`judge ${label}: ${summary.errors} failed: ${summary.causes.lines(3).join("; ")}`);
      panels[kind].push({ label, summary });
    }
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

async function generateFor(
  model: ExperimentModel,
  samples: Sample[],
  experiment: Experiment,
  budget: Budget,
  hooks: RunHooks,
): Promise<{ records: GenerationRecord[]; errors: number; causes: Causes }> {
  const { generation } = experiment.spec;
  const records: GenerationRecord[] = [];
  const paid = model.backend.kind === "openai";
  hooks.onStepStart?.(`generate ${model.name}`, samples.length, "items");
  const result = await generate({
    runDir: experiment.runDir,
    model: model.name,
    backend: model.backend,
    samples,
    decoding: decodingFor(generation),
    ...(generation.concurrency ? { concurrency: generation.concurrency } : {}),
    ...(generation.timeout_s ? { timeoutMs: generation.timeout_s * 1000 } : {}),
    ...(generation.system ? { system: generation.system } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    // Local models cost nothing; endpoint tokens count against the budget (prompt estimate + the completion cap).
    ...(hooks.reportOnly ? { admit: () => budget.admit({ tokens: 1 }) } : {}),
    ...(paid && !hooks.reportOnly ? { admit: (_: Sample, messages: { content: string }[]) => budget.admit({ tokens: estimateTokens(messages.map((m) => m.content).join("\n")) + generation.max_tokens }) } : {}),
    onWarning: hooks.warn,
    onRecord: (record) => {
      if (record.status === "done") records.push(record);
      hooks.onStepTick?.(1);
    },
  });
  hooks.onStepEnd?.();
  hooks.log(`generate ${model.name}: ${result.done} new, ${result.cached} cached${result.errors ? `, ${result.errors} failed` : ""}${result.skipped ? `, ${result.skipped} left for later` : ""}`);
  // Completion order varies; the report must not.
  sortByKey(records, (r) => `${r.dataset}\u0000${r.language}\u0000${r.id}`);
  return { records, errors: result.errors, causes: result.causes };
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
