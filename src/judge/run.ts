import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import pLimit from "p-limit";
import { InputError } from "../errors.ts";
import type { GenerationRecord } from "../generate/runner.ts";
import { RecordStore } from "../generate/store.ts";
import { Causes } from "../util/causes.ts";
import { sortByKey } from "../util/order.ts";
import type { Interval } from "../score/interval.ts";
import { pairedDifference } from "../score/paired.ts";
import { minimumDetectableDifference } from "../score/power.ts";
import { rateInterval } from "../score/rates.ts";
import { pairedDifferenceOverBase, pairedRelativeChange } from "../score/ratio.ts";
import { languageMatchShare } from "./language-check.ts";
import { JudgmentRefused, type Judge, type JudgeContext } from "./types.ts";

/** One JSONL line of RUN/judgments/<judge>.jsonl. */
export interface JudgmentRecord {
  key: string;
  status: "done" | "error";
  judge: string;
  model: string;
  baseline?: string;
  dataset: string;
  language: string;
  id: string;
  sourceId?: string;
  harmful?: boolean;
  flag?: string;
  categories?: string[];
  winner?: "A" | "B" | "tie";
  /** Both-order judges: whether the two orders agreed. */
  consistent?: boolean;
  /** The judge's reply could not be parsed: counted apart, never as safe or as a tie. */
  unparsable?: boolean;
  error?: string;
  time: string;
}

export interface JudgeRunOptions {
  runDir: string;
  judge: Judge;
  /** The model preference judges compare against, and harm changes are relative to. */
  baseline?: string;
  /** The data-mixing baseline (the paper's 15% mix): every model's difference from it gets an interval. */
  mix?: string;
  concurrency?: number;
  /** The completions to judge, by model (default: every model's latest records in RUN/generations/). */
  generations?: Map<string, GenerationRecord[]>;
  /**
   * Asked before each judgment that is not cached, with the texts the judge will be shown (prompt, completions);
   * false leaves it undone and unrecorded (a budget ran out).
   */
  admit?: (record: GenerationRecord, shown: readonly string[]) => boolean;
  /** Asked before each endpoint request beyond the judge's `calls` (a retry, a re-ask of an unparsable reply). */
  admitExtraCall?: (record: GenerationRecord, shown: readonly string[]) => boolean;
  /** Progress: the number of judgments to make or reuse, then one tick per judgment settled. */
  onStart?: (total: number) => void;
  onSettled?: () => void;
}

export interface LanguageScore {
  model: string;
  language: string;
  n: number;
  unparsable: number;
  /** Harmful rate, or win rate against the baseline (fractions). */
  rate: Interval;
  /** Harm judges with a baseline: the paper's relative % change vs the baseline (paired). */
  relativeChange?: Interval;
  /** Why the relative change is undefined although there are prompts (the base never harms here). */
  relativeChangeUndefined?: string;
  /**
   * Against the mix model, with a two-sided p-value: harm (with a baseline) in points of harm reduction,
   * 100·(h_mix − h)/h_base (positive = less harm than the mix); preference, the win-rate difference (a fraction).
   */
  vsMix?: Interval & { p: number };
  /** Smallest rate difference (a fraction) detectable against the mix (or a fixed rate): 80% power, 5% two-sided. */
  mde?: number;
  /** Both-order judges: share of pairs whose two orders agreed. */
  consistency?: number;
  /** Share of this model's judged completions written in the prompt's language (identifiable ones only). */
  inLanguage?: number;
}

export interface JudgeRunSummary {
  file: string;
  /** Verdicts asked of the judge this run. */
  judged: number;
  /** Verdicts from earlier runs (the judgments file). */
  cached: number;
  /** Verdicts shared with an identical completion judged this run (near-identical merges often agree). */
  reused: number;
  /** Judgments `admit` refused: left for a later run. */
  skipped: number;
  /** Judgments that failed this run (recorded as errors, retried by the next run). */
  errors: number;
  /** Why they failed, grouped. */
  causes: Causes;
  scores: LanguageScore[];
  /** Every judgment scored, sorted by model, language, dataset and id. */
  judgments: JudgmentRecord[];
}

/** Reads every model's generations in a run folder. */
export async function readGenerations(runDir: string): Promise<Map<string, GenerationRecord[]>> {
  const dir = join(runDir, "generations");
  if (!existsSync(dir)) throw new InputError(`${runDir}: no generations/ folder (run \`mergeval generate\` first)`);
  const byModel = new Map<string, GenerationRecord[]>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".jsonl")).sort()) {
    const lines = (await readFile(join(dir, file), "utf8")).split("\n").filter((l) => l.trim() !== "");
    const records = lines.map((l) => JSON.parse(l) as GenerationRecord).filter((r) => r.status === "done");
    const latest = new Map(records.map((r) => [`${r.dataset}\u0000${r.language}\u0000${r.id}`, r]));
    byModel.set(basename(file, ".jsonl"), [...latest.values()]);
  }
  return byModel;
}

/**
 * Judges the completions of a run folder (harm judges: red-team completions; preference judges: general
 * completions against the baseline's for the same prompt), caching each judgment in RUN/judgments/<judge>.jsonl,
 * then scores them per model and language with paired bootstrap intervals.
 */
export async function runJudge(options: JudgeRunOptions): Promise<JudgeRunSummary> {
  const { judge, baseline } = options;
  const generations = options.generations ?? (await readGenerations(options.runDir));
  for (const [role, name] of [["baseline", baseline], ["mix", options.mix]] as const) {
    if (name !== undefined && !generations.has(name)) {
      throw new InputError(`${role} "${name}" has no generations in ${options.runDir} (models: ${[...generations.keys()].join(", ")})`);
    }
  }
  if (judge.kind === "preference" && baseline === undefined) throw new InputError(`${judge.name} compares against a baseline: give --baseline MODEL`);
  const file = join(options.runDir, "judgments", `${judge.name}.jsonl`);
  const opened = await RecordStore.open<JudgmentRecord>(file);
  const limit = pLimit(options.concurrency ?? 8);
  const against = baselineOutputs(baseline, generations);
  const judgments: JudgmentRecord[] = [];
  const counts = { judged: 0, cached: 0, reused: 0, skipped: 0, errors: 0 };
  const causes = new Causes();
  const inFlight = new Map<string, Promise<JudgmentRecord | undefined>>();
  let probed: Promise<void> | undefined;
  /** Before the first request: a judge endpoint that is down, refuses the key or lacks the model stops in seconds. */
  const ready = () =>
    (probed ??= (async () => {
      const result = await judge.probe?.();
      if (result?.problems.length) throw new InputError(`cannot judge with ${judge.name}:\n  ${result.problems.join("\n  ")}`);
    })());
  const settle = (outcome: keyof typeof counts) => {
    counts[outcome]++;
    options.onSettled?.();
  };
  try {
    const tasks: Promise<void>[] = [];
    for (const [model, records] of generations) {
      for (const record of records) {
        const task = judgeTask(judge, model, record, against);
        if (!task) continue;
        tasks.push(
          limit(async () => {
            const hit = opened.done.get(task.key);
            if (hit) {
              // Keyed by content: an identical completion from another model (near-identical merges) reuses the
              // verdict, under this sample's own labels.
              judgments.push({ ...hit, ...task.base });
              return settle("cached");
            }
            const first = inFlight.get(task.key);
            if (first) {
              // The same content is being judged for another model right now: share that verdict, or its failure.
              const verdict = await first;
              if (verdict === undefined) return settle("skipped");
              if (verdict.status === "error") {
                causes.add(verdict.error ?? "unknown error");
                return settle("errors");
              }
              judgments.push({ ...verdict, ...task.base });
              return settle("reused");
            }
            const judging = (async (): Promise<JudgmentRecord | undefined> => {
              if (options.admit && !options.admit(record, task.shown)) return undefined;
              await ready();
              const context = options.admitExtraCall ? { admitExtraCall: () => options.admitExtraCall!(record, task.shown) } : {};
              const result = await task.run(context).catch((err: unknown) => (err instanceof JudgmentRefused ? undefined : { error: (err as Error).message }));
              if (result === undefined) return undefined;
              const entry: JudgmentRecord = { ...task.base, ...result, status: "error" in result ? "error" : "done", time: new Date().toISOString() };
              await opened.store.append(entry);
              return entry;
            })();
            inFlight.set(task.key, judging);
            const entry = await judging;
            if (!entry) return settle("skipped");
            if (entry.status === "error") {
              causes.add(entry.error ?? "unknown error");
              return settle("errors");
            }
            judgments.push(entry);
            settle("judged");
          }),
        );
      }
    }
    options.onStart?.(tasks.length);
    await Promise.all(tasks);
  } finally {
    await opened.store.close();
  }
  // Completion order varies from run to run; a fixed order keeps the report byte-identical.
  sortByKey(judgments, (j) => `${j.model}\u0000${j.language}\u0000${j.dataset}\u0000${j.id}`);
  const scores = score(judgments, judge, baseline, options.mix);
  for (const s of scores) {
    const outputs = (generations.get(s.model) ?? []).filter(
      (r) => (s.language === "all" || r.language === s.language) && (judge.kind === "harm" ? r.kind === "aya-redteaming" : r.kind === "dolly-200"),
    );
    const { share } = languageMatchShare(outputs.map((r) => ({ language: r.language, output: r.output ?? "" })));
    if (Number.isFinite(share)) s.inLanguage = share;
  }
  return { file, ...counts, causes, scores, judgments };
}

/** "79 judged, 137 shared with identical completions, 12 failed": every verdict counted once, failures apart. */
export function judgeSummaryLine(s: JudgeRunSummary): string {
  const parts = [
    `${s.judged} judged`,
    ...(s.reused ? [`${s.reused} shared with identical completions`] : []),
    ...(s.cached ? [`${s.cached} from earlier runs`] : []),
    ...(s.errors ? [`${s.errors} failed`] : []),
    ...(s.skipped ? [`${s.skipped} left for later (budget)`] : []),
  ];
  return parts.join(", ");
}

/** How many judgments the judgments file lacks for these completions (nothing is asked: for preflights). */
export async function pendingJudgments(runDir: string, judge: Judge, baseline: string | undefined, generations: ReadonlyMap<string, readonly GenerationRecord[]>): Promise<number> {
  const text = await readFile(join(runDir, "judgments", `${judge.name}.jsonl`), "utf8").catch(() => "");
  const done = new Set<string>();
  for (const line of text.split("\n")) {
    try {
      const r = JSON.parse(line) as JudgmentRecord;
      if (r.status === "done") done.add(r.key);
    } catch {
      // blank or torn line
    }
  }
  const against = baselineOutputs(baseline, generations);
  let pending = 0;
  for (const [model, records] of generations) {
    for (const record of records) {
      const task = judgeTask(judge, model, record, against);
      if (task && !done.has(task.key)) pending++;
    }
  }
  return pending;
}

interface JudgeTask {
  key: string;
  /** What the judge is shown: the prompt and the completion(s). */
  shown: readonly string[];
  base: Omit<JudgmentRecord, "status" | "time">;
  run: (context: JudgeContext) => Promise<Partial<JudgmentRecord>>;
}

/** The baseline's completions by prompt, which preference judges compare against. */
function baselineOutputs(baseline: string | undefined, generations: ReadonlyMap<string, readonly GenerationRecord[]>): { name: string; outputs: ReadonlyMap<string, string> } | undefined {
  return baseline === undefined ? undefined : { name: baseline, outputs: new Map((generations.get(baseline) ?? []).map((r) => [promptKey(r), r.output ?? ""])) };
}

const promptKey = (r: GenerationRecord) => `${r.dataset}\u0000${r.language}\u0000${r.id}`;

/** One judgment to make; preference judges need the baseline's completion of the same prompt (by prompt key). */
function judgeTask(
  judge: Judge,
  model: string,
  record: GenerationRecord,
  baseline: { name: string; outputs: ReadonlyMap<string, string> } | undefined,
): JudgeTask | undefined {
  const output = record.output ?? "";
  const base = {
    judge: judge.name, model, dataset: record.dataset, language: record.language, id: record.id,
    ...(record.sourceId !== undefined ? { sourceId: record.sourceId } : {}),
  };
  if (judge.kind === "harm") {
    if (record.kind !== "aya-redteaming") return undefined;
    const key = judgmentKey(judge, record.prompt, [output]);
    return {
      key,
      shown: [record.prompt, output],
      base: { key, ...base },
      run: async (context) => {
        const v = await judge.judge({ prompt: record.prompt, response: output, language: record.language }, context);
        return v.harmful === undefined
          ? { unparsable: true }
          : { harmful: v.harmful, ...(v.flag ? { flag: v.flag } : {}), ...(v.categories?.length ? { categories: v.categories } : {}) };
      },
    };
  }
  if (record.kind !== "dolly-200" || model === baseline?.name) return undefined;
  const other = baseline?.outputs.get(promptKey(record));
  if (other === undefined) return undefined;
  const key = judgmentKey(judge, record.prompt, [output, other]);
  return {
    key,
    shown: [record.prompt, output, other],
    base: { key, ...base, ...(baseline !== undefined ? { baseline: baseline.name } : {}) },
    run: async (context) => {
      const v = await judge.compare({ prompt: record.prompt, a: output, b: other, reference: record.reference, language: record.language }, context);
      return v.winner === undefined ? { unparsable: true } : { winner: v.winner, ...(v.consistent !== undefined ? { consistent: v.consistent } : {}) };
    },
  };
}

/** Judgments are keyed by the judge and its configuration, the prompt and the completions in the order shown. */
export function judgmentKey(judge: Judge, prompt: string, completions: string[]): string {
  return createHash("sha256").update(JSON.stringify({ judge: judge.name, config: judge.config ?? null, prompt, completions })).digest("hex");
}

/**
 * Scores per model and language, plus "all" (every language; translations of one source prompt form one cluster).
 * Intervals hold at small n: Wilson for rates, adjusted paired intervals for changes and differences (src/score).
 */
function score(judgments: JudgmentRecord[], judge: Judge, baseline: string | undefined, mix: string | undefined): LanguageScore[] {
  const scores: LanguageScore[] = [];
  const keyOf = (j: JudgmentRecord) => `${j.dataset}\u0000${j.language}\u0000${j.id}`;
  const value = (j: JudgmentRecord): number | undefined =>
    j.unparsable ? undefined : judge.kind === "harm" ? (j.harmful ? 1 : 0) : j.winner === "A" ? 1 : j.winner === "tie" ? 0.5 : 0;
  const byPrompt = (model: string | undefined) => new Map(judgments.filter((j) => j.model === model).map((j) => [keyOf(j), j]));
  const baseByPrompt = byPrompt(baseline);
  const mixByPrompt = byPrompt(mix);
  const models = [...new Set(judgments.map((j) => j.model))].sort();
  const languages = [...[...new Set(judgments.map((j) => j.language))].sort(), "all"];
  for (const model of models) {
    if (judge.kind === "preference" && model === baseline) continue;
    for (const language of languages) {
      const mine = judgments.filter((j) => j.model === model && (language === "all" || j.language === language));
      if (mine.length === 0) continue;
      const items: { cluster: string; model: number; base?: number; mix?: number }[] = [];
      for (const j of mine) {
        const v = value(j);
        if (v === undefined) continue;
        const other = (m: Map<string, JudgmentRecord>) => {
          const o = m.get(keyOf(j));
          return o && value(o);
        };
        items.push({ cluster: j.sourceId ?? `${j.language}/${j.id}`, model: v, base: other(baseByPrompt), mix: other(mixByPrompt) });
      }
      const rate = rateInterval(items.map((i) => ({ cluster: i.cluster, value: i.model })));
      const withBase = items.filter((i): i is typeof i & { base: number } => i.base !== undefined);
      const withMix = items.filter((i): i is typeof i & { mix: number } => i.mix !== undefined);
      const harmVsBase = judge.kind === "harm" && baseline !== undefined && model !== baseline && withBase.length > 0;
      const change = harmVsBase ? pairedRelativeChange(withBase.map((i) => ({ cluster: i.cluster, a: i.model, b: i.base }))) : undefined;
      // Against the data-mixing baseline, in the paper's own metric: points of harm reduction (over the base's rate), or win-rate difference.
      let vsMix: (Interval & { p: number }) | undefined;
      if (mix !== undefined && model !== mix) {
        if (harmVsBase) {
          const triples = withMix.filter((i): i is typeof i & { base: number; mix: number } => i.base !== undefined);
          const d = triples.length ? pairedDifferenceOverBase(triples.map((i) => ({ cluster: i.cluster, model: i.model, other: i.mix, base: i.base }))) : undefined;
          if (d && !("undefinedReason" in d)) vsMix = d;
        } else if (judge.kind === "preference" && withMix.length) {
          vsMix = pairedDifference(withMix.map((i) => ({ cluster: i.cluster, a: i.model, b: i.mix })));
        }
      }
      const ordered = mine.filter((j) => j.consistent !== undefined);
      const consistency = ordered.length ? ordered.filter((j) => j.consistent).length / ordered.length : undefined;
      scores.push({
        model, language, n: items.length, unparsable: mine.length - items.length, rate,
        ...(change && !("undefinedReason" in change) ? { relativeChange: change } : {}),
        ...(change && "undefinedReason" in change ? { relativeChangeUndefined: change.undefinedReason } : {}),
        ...(vsMix ? { vsMix } : {}),
        ...(consistency !== undefined ? { consistency } : {}),
        ...detectable(items, model === mix ? undefined : mix !== undefined ? "mix" : undefined),
      });
    }
  }
  return scores;
}

/**
 * The smallest rate difference (a fraction) this cell could detect against the mix, paired, at its observed
 * variance; without a mix (or for the mix itself), against a fixed rate at the spread of its own values.
 */
function detectable(items: readonly { cluster: string; model: number; mix?: number }[], against: "mix" | undefined): Pick<LanguageScore, "mde"> {
  const pairs = against ? items.filter((i) => i.mix !== undefined).map((i) => ({ cluster: i.cluster, a: i.model, b: i.mix! })) : items.map((i) => ({ cluster: i.cluster, a: i.model, b: 0 }));
  if (pairs.length === 0) return {};
  const { se } = pairedDifference(pairs);
  return Number.isFinite(se) ? { mde: minimumDetectableDifference(se * Math.sqrt(pairs.length), pairs.length) } : {};
}
