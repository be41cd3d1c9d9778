import { existsSync } from "node:fs";
import { InputError } from "../errors.ts";
import { pendingJudgments, readGenerations } from "../judge/run.ts";
import { parseMergeConfig } from "../merge/config.ts";
import { buildMergePlan } from "../merge/plan.ts";
import { probeEndpoint, type EndpointTarget, type ProbeResult } from "../util/endpoint.ts";
import { stripCopyLine, withoutCopyLines, type Experiment } from "./load.ts";
import type { Preflight } from "./preflight.ts";

export interface Checks {
  /** Each stops the run before any work. */
  problems: string[];
  warnings: string[];
  /** Dry run: what could not be checked yet, or will be needed (an API key not set here). */
  notes: string[];
}

/** What each dataset file of an experiment must be, for the message when it is missing. */
const DATASET_HINTS = {
  redteam: "Aya Red-teaming prompts (CohereForAI/aya_redteaming, one aya_<lang>.jsonl per language, or your translations of the English ones)",
  general: "multilingual Dolly-200 (CohereForAI/aya_evaluation_suite, config dolly_machine_translated or dolly_human_edited, test parquet)",
} as const;

/** Dataset files and model folders, checked before the datasets are read (one message lists every one missing). */
export function missingFiles(experiment: Experiment): string[] {
  const { spec, file } = experiment;
  const problems: string[] = [];
  for (const kind of ["redteam", "general"] as const) {
    const path = spec.datasets[kind];
    if (!existsSync(path)) {
      problems.push(`${file}: datasets.${kind}: not found: ${path} — expected the ${DATASET_HINTS[kind]}. mergeval never downloads data: see datasets/README.md, "Running on the full sets"`);
    }
  }
  if (spec.fixtures !== undefined && !existsSync(spec.fixtures)) return problems;
  for (const [name, m] of Object.entries(spec.models)) {
    if ("path" in m && !existsSync(m.path)) problems.push(`${file}: models.${name}.path: not found: ${m.path} (a Hugging Face model folder)`);
  }
  return problems;
}

/**
 * The rest of what a run needs, checked before any work (shared by `run` and `run --dry-run`): every merge
 * recipe against its checkpoints' headers, and every endpoint that will be sent work (generation servers of
 * models with completions to make, judges with judgments to make).
 */
export async function checkWork(experiment: Experiment, plan: Preflight, options: { dryRun: boolean }): Promise<Checks> {
  const checks: Checks = { problems: [], warnings: [], notes: [] };
  const { fixtures } = experiment.spec;
  if (fixtures !== undefined && !existsSync(fixtures)) checks.notes.push(`the fixture models are written to ${fixtures} when the run starts: merges are checked then`);
  else await checkMerges(experiment, checks, options.dryRun);
  await checkEndpoints(experiment, plan, options.dryRun, checks);
  return checks;
}

/** Plans every merge from its checkpoints' headers (tensors, shapes, dtypes, parameters) without reading weights. */
async function checkMerges(experiment: Experiment, checks: Checks, dryRun: boolean): Promise<void> {
  for (const model of experiment.models) {
    if (!model.merge) continue;
    const where = `${experiment.file}: merges (${model.name})`;
    try {
      const { recipeText } = model.merge;
      const plan = await withoutCopyLines(where, () => buildMergePlan({ file: where, text: recipeText, config: parseMergeConfig(recipeText, where) }, process.cwd()));
      await Promise.all(plan.models.map((m) => m.checkpoint.close()));
      // A run prints them when it merges.
      if (dryRun) checks.warnings.push(...plan.warnings.map((w) => stripCopyLine(where, w)));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      checks.problems.push(err.message);
    }
  }
}

async function checkEndpoints(experiment: Experiment, plan: Preflight, dryRun: boolean, checks: Checks): Promise<void> {
  const groups: EndpointTarget[][] = [];
  for (const model of experiment.models) {
    const { backend } = model;
    if (backend.kind !== "openai" || !plan.toGenerate.get(model.name)) continue;
    groups.push(backend.baseUrls.map((baseUrl) => ({ baseUrl, model: backend.model, usedBy: `model ${model.name}`, ...(backend.apiKeyEnv ? { apiKeyEnv: backend.apiKeyEnv } : {}) })));
  }
  const generating = [...plan.toGenerate.values()].some((n) => n > 0);
  const generations = generating ? undefined : await readGenerations(experiment.runDir).catch(() => new Map());
  for (const kind of ["harm", "preference"] as const) {
    for (const { judge, entry, label } of experiment.panels[kind]) {
      if (!entry.endpoint || !entry.model) continue;
      // New completions need new verdicts; otherwise only the verdicts the judgments file lacks.
      if (generations && (await pendingJudgments(experiment.runDir, judge, experiment.base, generations)) === 0) continue;
      groups.push(entry.endpoint.map((baseUrl) => ({ baseUrl, model: entry.model!, usedBy: `judges.${kind} (${label})`, ...(entry.api_key_env ? { apiKeyEnv: entry.api_key_env } : {}) })));
    }
  }
  const results = await Promise.all(groups.map((targets) => Promise.all(targets.map((t) => probeEndpoint(t, { keysOptional: dryRun })))));
  for (const group of results) recordProbes(group, checks);
}

/** A fleet works on with its healthy members (a warning each); with none, it is a problem. */
function recordProbes(group: ProbeResult[], checks: Checks): void {
  const failed = group.filter((r) => r.problem);
  if (failed.length === group.length) checks.problems.push(...failed.map((r) => r.problem!));
  else checks.warnings.push(...failed.map((r) => `${r.problem!} (left out: the other endpoints of the fleet take its share)`));
  checks.notes.push(...group.flatMap((r) => (r.note ? [r.note] : [])));
}
