import type { GenerationRecord } from "../generate/index.ts";
import type { JudgmentRecord } from "../judge/run.ts";
import { cohensKappa, krippendorffAlpha } from "../score/agreement.ts";
import { lengthControlledWinRate } from "../score/length-control.ts";
import { compareText } from "../util/order.ts";
import type { JudgeDiagnostics, PanelAgreement } from "./types.ts";

/**
 * Can the judges be trusted, per language? Agreement within a panel, the preference judge's order effects, ties
 * and taste for length, and the length-controlled win rate. Pure functions of the judgments and completions.
 */

const OVERALL = "overall";
const SHOWN_DISAGREEMENTS = 50;

export interface PanelInput {
  label: string;
  judgments: readonly JudgmentRecord[];
}

const promptOf = (j: { model: string; language: string; dataset: string; id: string }) => `${j.model}\u0000${j.language}\u0000${j.dataset}\u0000${j.id}`;

/** A verdict as a category: harmful/safe, or A/B/tie; null when unparsable. */
function verdict(j: JudgmentRecord): string | null {
  if (j.unparsable) return null;
  if (j.harmful !== undefined) return j.harmful ? "harmful" : "safe";
  return j.winner ?? null;
}

/** Cohen's κ for two judges, Krippendorff's α (nominal) for more; undefined for a single judge. */
export function panelAgreement(members: readonly PanelInput[], languages: readonly string[]): PanelAgreement | undefined {
  if (members.length < 2) return undefined;
  const byJudge = members.map((m) => new Map(m.judgments.map((j) => [promptOf(j), j])));
  const prompts = new Map<string, JudgmentRecord>();
  for (const m of members) for (const j of m.judgments) if (!prompts.has(promptOf(j))) prompts.set(promptOf(j), j);
  const keys = [...prompts.keys()].sort(compareText);
  const ratings = (key: string) => byJudge.map((judge) => {
    const j = judge.get(key);
    return j ? verdict(j) : null;
  });
  const two = members.length === 2;
  const statistic = (subset: readonly string[]): { value: number | null; n: number } => {
    const rated = subset.map(ratings).filter((r) => r.filter((v) => v !== null).length >= 2);
    if (rated.length === 0) return { value: null, n: 0 };
    const value = two ? cohensKappa(rated.map((r) => r[0]!), rated.map((r) => r[1]!)) : krippendorffAlpha(rated);
    return { value: Number.isFinite(value) ? Math.round(value * 1e4) / 1e4 : null, n: rated.length };
  };
  const inLanguage = (language: string) => keys.filter((k) => prompts.get(k)!.language === language);
  const disagreeing = keys.filter((k) => new Set(ratings(k).filter((v) => v !== null)).size > 1);
  return {
    judges: members.map((m) => m.label),
    statistic: two ? "Cohen's kappa" : "Krippendorff's alpha (nominal)",
    languages: Object.fromEntries([[OVERALL, statistic(keys)], ...languages.map((l) => [l, statistic(inLanguage(l))] as const)]),
    disagreements: disagreeing.slice(0, SHOWN_DISAGREEMENTS).map((k) => {
      const j = prompts.get(k)!;
      return { model: j.model, language: j.language, id: j.id, verdicts: Object.fromEntries(members.map((m, i) => [m.label, ratings(k)[i]!])) };
    }),
    disagreements_total: disagreeing.length,
  };
}

/** Completion lengths of a preference verdict: the candidate's and the baseline's answer to the same prompt. */
export interface Lengths {
  candidate: number;
  baseline: number;
}

/** Lengths per preference judgment, from the completions (the baseline is the model every other is compared with). */
export function lengthsOf(judgments: readonly JudgmentRecord[], generations: ReadonlyMap<string, readonly GenerationRecord[]>): Map<JudgmentRecord, Lengths> {
  const outputs = new Map<string, number>();
  for (const [model, records] of generations) for (const r of records) outputs.set(`${model}\u0000${r.dataset}\u0000${r.language}\u0000${r.id}`, [...(r.output ?? "")].length);
  const lengths = new Map<JudgmentRecord, Lengths>();
  for (const j of judgments) {
    const candidate = outputs.get(`${j.model}\u0000${j.dataset}\u0000${j.language}\u0000${j.id}`);
    const baseline = j.baseline === undefined ? undefined : outputs.get(`${j.baseline}\u0000${j.dataset}\u0000${j.language}\u0000${j.id}`);
    if (candidate !== undefined && baseline !== undefined) lengths.set(j, { candidate, baseline });
  }
  return lengths;
}

/** Position inconsistency, ties and length preference of the preference judge, per language and overall. */
export function judgeDiagnostics(judgments: readonly JudgmentRecord[], lengths: ReadonlyMap<JudgmentRecord, Lengths>, languages: readonly string[]): Record<string, JudgeDiagnostics> {
  const pct = (part: number, whole: number) => (whole ? Math.round((1e4 * part) / whole) / 100 : null);
  const mean = (values: number[]) => (values.length ? Math.round((10 * values.reduce((a, b) => a + b, 0)) / values.length) / 10 : null);
  const diagnose = (subset: readonly JudgmentRecord[]): JudgeDiagnostics => {
    const parsable = subset.filter((j) => !j.unparsable && j.winner !== undefined);
    const ordered = parsable.filter((j) => j.consistent !== undefined);
    const decisive = parsable.filter((j) => j.winner !== "tie" && lengths.has(j));
    const preferred = decisive.map((j) => (j.winner === "A" ? lengths.get(j)!.candidate : lengths.get(j)!.baseline));
    const other = decisive.map((j) => (j.winner === "A" ? lengths.get(j)!.baseline : lengths.get(j)!.candidate));
    return {
      position_inconsistency: ordered.length ? pct(ordered.filter((j) => !j.consistent).length, ordered.length) : null,
      tie_rate: pct(parsable.filter((j) => j.winner === "tie").length, parsable.length),
      preferred_length: mean(preferred),
      other_length: mean(other),
    };
  };
  return Object.fromEntries([[OVERALL, diagnose(judgments)], ...languages.map((l) => [l, diagnose(judgments.filter((j) => j.language === l))] as const)]);
}

/** AlpacaEval 2's length-controlled win rate of one model's verdicts (%), or null without lengths. */
export function lengthControlled(judgments: readonly JudgmentRecord[], lengths: ReadonlyMap<JudgmentRecord, Lengths>): number | null {
  const items = judgments.flatMap((j) => {
    const l = lengths.get(j);
    if (!l || j.unparsable || j.winner === undefined) return [];
    return [{ value: j.winner === "A" ? 1 : j.winner === "tie" ? 0.5 : 0, lengthDiff: l.candidate - l.baseline }];
  });
  if (items.length === 0) return null;
  const { lengthControlled: lc } = lengthControlledWinRate(items);
  return Number.isFinite(lc) ? Math.round(lc * 1e4) / 1e4 : null;
}
