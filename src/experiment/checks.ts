import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { InputError } from "../errors.ts";
import type { GenerationRecord } from "../generate/index.ts";
import { pendingJudgments, readGenerations } from "../judge/run.ts";
import { parseMergeConfig } from "../merge/config.ts";
import { buildMergePlan } from "../merge/plan.ts";
import { splitWords, type ServeSpec, type ServerProfile } from "../serve/profile.ts";
import { probeEndpoint, type EndpointTarget, type ProbeResult } from "../util/endpoint.ts";
import { closeFolderHint } from "../util/suggest.ts";
import { stripCopyLine, withoutCopyLines, type Experiment, type ExperimentModel, type PanelMember } from "./load.ts";
import type { Preflight } from "./preflight.ts";

export interface Checks {
  /** Each stops the run before any work. */
  problems: string[];
  warnings: string[];
  /** Dry run: what could not be checked yet, or will be needed (an API key not set here). */
  notes: string[];
  /** The servers the run would start, in the order it would start them. */
  servers: PlannedServer[];
}

/** A server mergeval would start: for a model's generations, or for a judge's verdicts. */
export interface PlannedServer {
  spec: ServeSpec;
  stage: "generate" | "judge";
  /** The judge's label, or the model's name. */
  usedBy: string;
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
    if ("path" in m && !existsSync(m.path)) problems.push(`${file}: models.${name}.path: not found: ${m.path} (a Hugging Face model folder)${closeFolderHint(m.path)}`);
  }
  return problems;
}

/**
 * The rest of what a run needs, checked before any work (shared by `run` and `run --dry-run`): every merge
 * recipe against its checkpoints' headers, and every endpoint that will be sent work (generation servers of
 * models with completions to make, judges with judgments to make).
 */
export async function checkWork(experiment: Experiment, plan: Preflight, options: { dryRun: boolean }): Promise<Checks> {
  const checks: Checks = { problems: [], warnings: [], notes: [], servers: [] };
  const { fixtures } = experiment.spec;
  if (fixtures !== undefined && !existsSync(fixtures)) checks.notes.push(`the fixture models are written to ${fixtures} when the run starts: merges are checked then`);
  else await checkMerges(experiment, checks, options.dryRun);
  const generations = [...plan.toGenerate.values()].some((n) => n > 0) ? undefined : await readGenerations(experiment.runDir).catch(() => new Map<string, GenerationRecord[]>());
  await checkEndpoints(experiment, plan, generations, options.dryRun, checks);
  checks.servers = await plannedServers(experiment, plan, generations);
  checkServerPrograms(experiment, checks);
  return checks;
}

/** Models whose servers mergeval starts, by profile (in order of first use), each profile's in display order. */
export function servedByProfile(models: readonly ExperimentModel[]): Map<ServerProfile, ExperimentModel[]> {
  const groups = new Map<ServerProfile, ExperimentModel[]>();
  for (const model of models) {
    if (model.backend.kind !== "served") continue;
    const { profile } = model.backend.serve;
    groups.set(profile, [...(groups.get(profile) ?? []), model]);
  }
  return groups;
}

/**
 * The servers a run would start, in order: each model with completions to make (grouped by profile, as the run
 * generates them), then each served judge with verdicts to make (new completions need new verdicts).
 * `generations` is the run folder's when nothing is left to generate.
 */
async function plannedServers(experiment: Experiment, plan: Preflight, generations: Map<string, GenerationRecord[]> | undefined): Promise<PlannedServer[]> {
  const servers: PlannedServer[] = [];
  const toServe = experiment.models.filter((m) => (plan.toGenerate.get(m.name) ?? 0) > 0);
  for (const models of servedByProfile(toServe).values()) {
    for (const m of models) if (m.backend.kind === "served") servers.push({ spec: m.backend.serve, stage: "generate", usedBy: m.name });
  }
  for (const kind of ["harm", "preference"] as const) {
    for (const member of experiment.panels[kind]) {
      if (!member.served || !(await judgeHasWork(experiment, member, generations))) continue;
      const last = servers.at(-1)?.spec;
      const { serve } = member.served;
      // The judge before it, served the same way, keeps its server.
      if (last && last.path === serve.path && last.model === serve.model && last.profile === serve.profile) continue;
      servers.push({ spec: serve, stage: "judge", usedBy: member.label });
    }
  }
  return servers;
}

/** Whether a judge would be asked anything: always when completions are still to be made, else for the verdicts its file lacks. */
async function judgeHasWork(experiment: Experiment, member: PanelMember, generations: Map<string, GenerationRecord[]> | undefined): Promise<boolean> {
  return !generations || (await pendingJudgments(experiment.runDir, member.judge, experiment.base, generations)) > 0;
}

/** The program each profile that will be started runs must exist: a typo or a missing vLLM would fail every server. */
function checkServerPrograms(experiment: Experiment, checks: Checks): void {
  const profiles = new Set(checks.servers.map((s) => s.spec.profile));
  for (const profile of profiles) {
    const program = splitWords(profile.command)[0] ?? "";
    if (program.includes("{") || findProgram(program)) continue;
    checks.problems.push(`${experiment.file}: servers.${profile.name}.command: "${program}" ${program.includes("/") ? "does not exist or is not executable" : "is not found on PATH (is it installed in this environment?)"}`);
  }
}

/** A command as the system would find it: a path as is, a bare name on PATH. */
function findProgram(program: string): boolean {
  const executable = (path: string) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes("/") || isAbsolute(program)) return executable(program);
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir !== "" && executable(join(dir, program)));
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

/**
 * Endpoints already running. Servers mergeval starts itself (a `servers:` profile) are not probed here: each is
 * checked by its ready path when it starts.
 */
async function checkEndpoints(experiment: Experiment, plan: Preflight, generations: Map<string, GenerationRecord[]> | undefined, dryRun: boolean, checks: Checks): Promise<void> {
  const groups: EndpointTarget[][] = [];
  for (const model of experiment.models) {
    const { backend } = model;
    if (backend.kind !== "openai" || !plan.toGenerate.get(model.name)) continue;
    groups.push(backend.baseUrls.map((baseUrl) => ({ baseUrl, model: backend.model, usedBy: `model ${model.name}`, ...(backend.apiKeyEnv ? { apiKeyEnv: backend.apiKeyEnv } : {}) })));
  }
  for (const kind of ["harm", "preference"] as const) {
    for (const member of experiment.panels[kind]) {
      const { entry, label } = member;
      if (member.served || !entry.endpoint || !entry.model) continue;
      // New completions need new verdicts; otherwise only the verdicts the judgments file lacks.
      if (!(await judgeHasWork(experiment, member, generations))) continue;
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
