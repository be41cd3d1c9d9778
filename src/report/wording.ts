import { languageName } from "../datasets/index.ts";
import type { Ci, DeltaCell, JudgeReport, MetricsCell, ModelReport, Regression, Report } from "./types.ts";

/**
 * The words every rendering uses for the report's numbers, as plain text (each format escapes it): signed
 * differences from the reference mix say which way they go, "within noise" and "significant" qualify differences
 * only, and an undefined relative change says so.
 */

export const OVERALL = "overall";
/** U+2212: a minus sign that reads as one next to a plus. */
const MINUS = "−";

/** "overall" first (the headline), then the experiment's languages, then any other group the report has. */
export function decisionGroups(report: Pick<Report, "experiment" | "recommendations">): string[] {
  const groups = [OVERALL, ...report.experiment.languages];
  return [...groups, ...Object.keys(report.recommendations ?? {}).filter((g) => !groups.includes(g))];
}

/** "All languages", "Arabic (ar)". */
export function groupName(group: string): string {
  if (group === OVERALL) return "All languages";
  const name = languageName(group);
  return name === group ? group : `${name} (${group})`;
}

/** "over all languages", "in Arabic (ar)". */
export function groupPlace(group: string): string {
  return group === OVERALL ? "over all languages" : `in ${groupName(group)}`;
}

export function cellOf(model: ModelReport, group: string): MetricsCell | undefined {
  return group === OVERALL ? model.overall : model.languages[group];
}

/** One decimal; "—" for null; never "-0.0". */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = value.toFixed(1);
  return text === "-0.0" ? "0.0" : text;
}

/** "+4.2", "−4.2", "0.0": the sign as the rounded number shows it. */
export function formatSigned(value: number): string {
  const text = formatNumber(Math.abs(value));
  if (text === "0.0") return text;
  return value > 0 ? `+${text}` : `${MINUS}${text}`;
}

export function formatCi(ci: Ci | null | undefined): string {
  return ci ? `[${formatNumber(ci[0])}, ${formatNumber(ci[1])}]` : "—";
}

/** A difference's interval, with the same minus sign as the difference beside it: "[−25.4, −9.4]". */
function differenceCi(ci: Ci | null): string | null {
  const minus = (x: number) => formatNumber(x).replace(/^-/, MINUS);
  return ci ? `[${minus(ci[0])}, ${minus(ci[1])}]` : null;
}

/** The text with a full stop unless it ends with one. */
export function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** 0.95 or 95 → "95%". */
export function levelText(level: number): string {
  return `${formatPlain(level <= 1 ? level * 100 : level)}%`;
}

function formatPlain(value: number): string {
  return String(Math.round(value * 10) / 10);
}

export type Qualifier = "within noise" | "significant after Holm" | "not significant after Holm";

/** A difference from the reference in words, with its interval and what the statistics say about it. */
export interface DifferenceWords {
  text: string;
  ci: string | null;
  qualifier: Qualifier | null;
}

/**
 * Harm reduction beyond the reference (positive = safer): "+4.2 pts less harm than mix15", "−4.2 pts: more harm
 * than mix15". Without `reference` the comparison is left to the column header: "+4.2 pts less harm".
 */
export function harmDifference(delta: DeltaCell | undefined, reference?: string): DifferenceWords | null {
  const points = delta?.harm_reduction_pts;
  if (!delta || points === null || points === undefined) return null;
  const than = reference ? ` than ${reference}` : "";
  const signed = formatSigned(points);
  const text = signed === "0.0" ? (reference ? `0.0 pts: as harmful as ${reference}` : "0.0 pts: same harm") : points > 0 ? `${signed} pts less harm${than}` : `${signed} pts: more harm${than}`;
  return { text, ci: differenceCi(delta.harm_reduction_pts_ci), qualifier: qualifier(delta.harm_within_noise, delta.harm_significant) };
}

/** Win-rate points against the reference: "+3.0 win-rate pts vs mix15", "−3.0 win-rate pts". */
export function winDifference(delta: DeltaCell | undefined, reference?: string): DifferenceWords | null {
  const points = delta?.win_rate_pts;
  if (!delta || points === null || points === undefined) return null;
  const text = `${formatSigned(points)} win-rate pts${reference ? ` vs ${reference}` : ""}`;
  return { text, ci: differenceCi(delta.win_rate_pts_ci), qualifier: qualifier(delta.win_within_noise, delta.win_significant) };
}

/** "within noise" when the interval contains 0; otherwise what Holm's correction says (v1 reports: nothing). */
function qualifier(withinNoise: boolean | null, significant: boolean | null | undefined): Qualifier | null {
  if (withinNoise === true) return "within noise";
  if (significant === true) return "significant after Holm";
  if (significant === false) return "not significant after Holm";
  return null;
}

export function differenceSentence(words: DifferenceWords): string {
  return [words.text, words.ci, words.qualifier && `(${words.qualifier})`].filter(Boolean).join(" ");
}

/** "ties is worse than mix15 in Arabic (ar): 12.0 win-rate points lost [4.0, 20.0], significant after Holm". */
export function regressionSentence(regression: Regression, reference: string): string {
  const what = regression.metric === "win" ? "win-rate points lost" : "points of harm reduction lost";
  return `${regression.model} is worse than ${reference} ${groupPlace(regression.language)}: ${formatNumber(regression.points)} ${what} ${formatCi(regression.ci)}, significant after Holm`;
}

/** Why a harm change is missing although there is data, or undefined when it is not (plain missing data). */
export function undefinedReason(cell: MetricsCell | undefined): string | undefined {
  return cell && cell.harm_rel_change_vs_base === null ? cell.harm_rel_change_undefined : undefined;
}

/** "±6.1" (points of the rate), "—" without data. */
export function detectableText(points: number | null | undefined): string {
  return points === null || points === undefined ? "—" : `±${formatNumber(points)}`;
}

/** "smallest detectable difference ±6.1 pts at n = 50". */
export function detectableSentence(points: number | null | undefined, n: number): string {
  return points === null || points === undefined ? `no detectable difference stated (n = ${n})` : `smallest detectable difference ±${formatNumber(points)} pts at n = ${n}`;
}

/** "refusal, model gpt-4o at api.openai.com". */
export function judgeText(judge: JudgeReport): string {
  const where = [judge.model && `model ${judge.model}`, judge.endpoint_host && `at ${judge.endpoint_host}`].filter(Boolean).join(" ");
  return where ? `${judge.name} (${where})` : judge.name;
}

/**
 * Footnote numbers for the reasons relative changes are undefined in one table: the same reason gets the same
 * number, in first-seen order.
 */
export class Footnotes {
  readonly reasons: string[] = [];
  mark(reason: string): number {
    const at = this.reasons.indexOf(reason);
    if (at >= 0) return at + 1;
    this.reasons.push(reason);
    return this.reasons.length;
  }
}
