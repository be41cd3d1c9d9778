import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sample } from "../datasets/index.ts";
import { generationsFile, type GenerationRecord } from "../generate/index.ts";
import { servedDone } from "../serve/generate.ts";
import { gpusOf, showCommand, commandWords } from "../serve/profile.ts";
import { decodingFor } from "./decoding.ts";
import { estimateTokens, judgeCallTokens } from "./budget.ts";
import type { Checks } from "./checks.ts";
import type { Experiment } from "./load.ts";
import { loadExperimentSamples, type ExperimentSamples } from "./samples.ts";

export interface PreflightRow {
  language: string;
  /** Completions the experiment needs, and how many of them the run folder does not hold yet. */
  generations: number;
  toGenerate: number;
  /** Endpoint requests the judges would make (offline judges make none); cached judgments not subtracted. */
  judgeCalls: number;
  /** Estimated tokens sent to endpoints: generations on endpoints (prompt + completion cap) and judge calls. */
  tokens: number;
}

export interface Preflight {
  merges: { name: string; method: string; upToDate: boolean }[];
  rows: PreflightRow[];
  total: PreflightRow;
  /** Completions each model still needs (its endpoint, if any, must answer). */
  toGenerate: Map<string, number>;
}

/** What `mergeval run` would do, without doing any of it (the cost preflight of `--dry-run`). */
export async function preflight(experiment: Experiment, samples?: ExperimentSamples): Promise<Preflight> {
  const { spec } = experiment;
  samples ??= await loadExperimentSamples(experiment);
  const merges = [];
  for (const m of experiment.models) {
    if (!m.merge) continue;
    const madeFrom = await readFile(join(m.merge.outDir, "mergekit_config.yml"), "utf8").catch(() => undefined);
    merges.push({ name: m.name, method: m.merge.method, upToDate: madeFrom === m.merge.recipeText });
  }
  const decoding = JSON.stringify(decodingFor(spec.generation));
  const rows: PreflightRow[] = experiment.languages.map((language) => ({ language, generations: 0, toGenerate: 0, judgeCalls: 0, tokens: 0 }));
  const row = (language: string) => rows.find((r) => r.language === language)!;
  // A panel asks each of its judges.
  const callsOf = (kind: "harm" | "preference") => experiment.panels[kind].reduce((sum, m) => sum + m.judge.calls, 0);
  const harm = { calls: callsOf("harm") };
  const preference = { calls: callsOf("preference") };
  const toGenerate = new Map<string, number>();
  for (const model of experiment.models) {
    const remerged = merges.find((m) => m.name === model.name && !m.upToDate);
    const { backend } = model;
    // A served model's cache keys are known without its server: counted exactly, so no server starts for nothing.
    const have =
      backend.kind === "served"
        ? idsOf(await servedDone(experiment.runDir, model.name, backend.fingerprint, [...samples.redteam, ...samples.general], decodingFor(spec.generation), spec.generation.system))
        : remerged ? new Set<string>() : await doneSamples(generationsFile(experiment.runDir, model.name), decoding, spec.generation.system);
    const paid = backend.kind === "openai" || backend.kind === "served";
    const add = (s: Sample) => {
      const r = row(s.language);
      r.generations++;
      if (have.has(`${s.dataset}\u0000${s.language}\u0000${s.id}`)) return;
      r.toGenerate++;
      toGenerate.set(model.name, (toGenerate.get(model.name) ?? 0) + 1);
      if (paid) r.tokens += estimateTokens(s.prompt) + spec.generation.max_tokens;
    };
    samples.redteam.forEach(add);
    samples.general.forEach(add);
    // Judge prompts hold the prompt and one completion (harm) or two (preference), at most max_tokens each.
    const judgeCall = (s: Sample, completions: number) => judgeCallTokens(estimateTokens(s.prompt) + completions * spec.generation.max_tokens);
    for (const s of samples.redteam) {
      row(s.language).judgeCalls += harm.calls;
      row(s.language).tokens += harm.calls * (harm.calls && judgeCall(s, 1));
    }
    if (model.name === experiment.base) continue;
    for (const s of samples.general) {
      row(s.language).judgeCalls += preference.calls;
      row(s.language).tokens += preference.calls * (preference.calls && judgeCall(s, 2));
    }
  }
  const total = rows.reduce(
    (t, r) => ({ language: "all", generations: t.generations + r.generations, toGenerate: t.toGenerate + r.toGenerate, judgeCalls: t.judgeCalls + r.judgeCalls, tokens: t.tokens + r.tokens }),
    { language: "all", generations: 0, toGenerate: 0, judgeCalls: 0, tokens: 0 },
  );
  return { merges, rows, total, toGenerate };
}

function idsOf(samples: Iterable<Sample>): Set<string> {
  return new Set([...samples].map((s) => `${s.dataset}\u0000${s.language}\u0000${s.id}`));
}

/** Samples done with the same decoding and system message (an approximation of the run's cache key, which needs the model loaded). */
async function doneSamples(file: string, decoding: string, system: string | undefined): Promise<Set<string>> {
  const text = await readFile(file, "utf8").catch(() => "");
  const have = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as GenerationRecord;
      const recordSystem = r.messages?.find((m) => m.role === "system")?.content;
      if (r.status === "done" && JSON.stringify(r.decoding) === decoding && recordSystem === system) have.add(`${r.dataset}\u0000${r.language}\u0000${r.id}`);
    } catch {
      // a torn last line: the run that opens the store repairs it
    }
  }
  return have;
}

export function renderPreflight(experiment: Experiment, p: Preflight, checks?: Checks): string[] {
  const { budget } = experiment.spec;
  const lines = [
    `experiment ${experiment.spec.name} → ${experiment.runDir} (dry run: nothing is merged, generated or judged)`,
    `models: ${experiment.models.map((m) => `${m.name} (${m.roles.join("+")})`).join(", ")}`,
    `merges: ${p.merges.length ? p.merges.map((m) => `${m.name} (${m.method}${m.upToDate ? ", up to date" : ""})`).join(", ") : "none"}`,
    `judges: harm ${experiment.panels.harm.map((m) => m.label).join(" + ")}, preference ${experiment.panels.preference.map((m) => m.label).join(" + ")}`,
    "",
    "language\tgenerations\tto generate\tjudge calls\test. tokens",
    ...[...p.rows, p.total].map((r) => `${r.language}\t${r.generations}\t${r.toGenerate}\t${r.judgeCalls}\t${r.tokens}`),
    "",
    "Judge calls are an upper bound (cached judgments are not subtracted); tokens are estimated as UTF-8 bytes / 4 plus completion caps.",
  ];
  if (budget?.judge_calls !== undefined && p.total.judgeCalls > budget.judge_calls) lines.push(`note: this exceeds budget.judge_calls (${budget.judge_calls}); the run would stop there.`);
  if (budget?.tokens !== undefined && p.total.tokens > budget.tokens) lines.push(`note: this exceeds budget.tokens (${budget.tokens}); the run would stop there.`);
  if (checks?.servers.length) {
    lines.push("", "servers mergeval would start, in this order (each on a free port, stopped when its work is done):");
    for (const { spec, stage, usedBy } of checks.servers) {
      const { profile } = spec;
      const gpu = profile.parallel > 1 ? "{gpu}" : gpusOf(profile, 0);
      const command = showCommand(commandWords(profile, { path: spec.path, port: "{port}", model: spec.model, gpu }));
      const where = profile.gpusPerServer ? `, gpu ${gpu === "{gpu}" ? `one of ${profile.parallel} slots` : gpu}` : "";
      lines.push(`  ${stage} ${usedBy} (${profile.name}${profile.parallel > 1 ? `, ${profile.parallel} at a time` : ""}${where}): ${command}`);
    }
  }
  if (checks) {
    lines.push("", checks.problems.length ? `checks: ${checks.problems.length} problem(s) would stop the run before any work:` : "checks: datasets, model folders, merge recipes and endpoints are ready");
    lines.push(...checks.problems.map((x) => `problem: ${x}`), ...checks.warnings.map((x) => `warning: ${x}`), ...checks.notes.map((x) => `note: ${x}`));
  }
  return lines;
}
