import { compareText } from "../util/order.ts";
import type { DeltaCell, MetricsCell, ModelReport, Recommendation } from "./types.ts";

/**
 * Which model to ship, per language and overall: the Pareto front of merges and data mixes (less harm, more wins)
 * and a pick by a rule stated in one line. Pure: reads the report's cells and deltas (with their Holm-adjusted
 * significance), nothing else.
 */

export type PickRule = "win-rate" | "harm";
export const PICK_RULES: readonly PickRule[] = ["win-rate", "harm"];

export interface Candidate {
  model: string;
  cell: MetricsCell;
  /** Against the reference mix; undefined for the reference itself (or without one). */
  delta: DeltaCell | undefined;
  isReference: boolean;
}

export interface FrontPoint {
  model: string;
  harmfulRate: number;
  winRate: number;
}

/**
 * Points no other point beats on both axes (lower harmful rate, higher win rate), by ascending harmful rate; equal
 * points do not dominate each other. The harmful rate orders models exactly as the paper's relative change vs a
 * common base does, and stays defined when the base has no harmful completions.
 */
export function paretoFront<T extends FrontPoint>(points: readonly T[]): T[] {
  const dominates = (a: T, b: T) => a.harmfulRate <= b.harmfulRate && a.winRate >= b.winRate && (a.harmfulRate < b.harmfulRate || a.winRate > b.winRate);
  return points
    .filter((p) => !points.some((q) => dominates(q, p)))
    .sort((a, b) => a.harmfulRate - b.harmfulRate || b.winRate - a.winRate || compareText(a.model, b.model));
}

/** Merges and data mixes (baselines) compete; the base and pure experts are inputs, not candidates. */
export function isCandidate(model: ModelReport): boolean {
  return model.roles.includes("merge") || model.roles.includes("baseline");
}

export function ruleText(rule: PickRule, reference: string | undefined): string {
  const against = reference ?? "the others";
  return rule === "win-rate"
    ? `the highest win rate vs the base among merges and mixes whose harm is not worse than ${against} beyond noise`
    : `the lowest harmful rate among merges and mixes whose win rate is not worse than ${against} beyond noise`;
}

/** One language's (or overall's) recommendation. */
export function recommend(candidates: readonly Candidate[], rule: PickRule, reference: string | undefined): Recommendation {
  const text = ruleText(rule, reference);
  const usable = candidates.filter((c) => !c.cell.missing && c.cell.harmful_rate !== null && c.cell.win_rate_vs_base !== null);
  const points = usable.map((c) => ({ model: c.model, harmfulRate: c.cell.harmful_rate!, winRate: c.cell.win_rate_vs_base! }));
  const front = paretoFront(points).map((p) => p.model);
  const none = (reason: string): Recommendation => ({ model: null, rule: text, reason, front });
  if (usable.length === 0) return none("no merge or mix has both a harmful rate and a win rate here");

  // "Worse beyond noise" is a significant delta in the wrong direction (Holm-adjusted), against the reference.
  const worseHarm = (c: Candidate) => c.delta?.harm_significant === true && (c.delta.harm_reduction_pts ?? 0) < 0;
  const worseWin = (c: Candidate) => c.delta?.win_significant === true && (c.delta.win_rate_pts ?? 0) < 0;
  const eligible = usable.filter((c) => (rule === "win-rate" ? !worseHarm(c) : !worseWin(c)));
  if (eligible.length === 0) return none(`every merge and mix is worse than ${reference} beyond noise on ${rule === "win-rate" ? "harm" : "win rate"}`);
  const score = (c: Candidate) => (rule === "win-rate" ? c.cell.win_rate_vs_base! : -c.cell.harmful_rate!);
  const tiebreak = (c: Candidate) => (rule === "win-rate" ? -c.cell.harmful_rate! : c.cell.win_rate_vs_base!);
  const ranked = [...eligible].sort((a, b) => score(b) - score(a) || tiebreak(b) - tiebreak(a) || compareText(a.model, b.model));
  const best = ranked[0]!;

  // Nothing separates the candidates from the reference mix beyond noise: the data cannot name a winner.
  const distinguished = usable.some((c) => c.delta?.harm_significant === true || c.delta?.win_significant === true);
  const n = `n = ${best.cell.n_redteam} red-team / ${best.cell.n_general} general prompts`;
  const mde = best.cell.mde_pts;
  const detectable = mde.harm !== null || mde.win !== null ? `; smallest detectable differences ±${fmt(mde.harm)} harm / ±${fmt(mde.win)} win-rate pts` : "";
  if (reference !== undefined && !distinguished) {
    return none(`no merge or mix differs from ${reference} beyond noise (${n}${detectable}); ${best.model} has the ${rule === "win-rate" ? "highest win rate" : "lowest harmful rate"} but within noise`);
  }
  const numbers = `win rate ${fmt(best.cell.win_rate_vs_base)}%, harmful ${fmt(best.cell.harmful_rate)}%`;
  const vsReference = best.isReference || !best.delta ? "" : `; vs ${reference}: ${deltaWords(best.delta, reference!)}`;
  const onFront = front.includes(best.model) ? "on the Pareto front" : "not on the Pareto front";
  return { model: best.model, rule: text, reason: `${numbers}${vsReference}; ${onFront} (${n})`, front };
}

/** "+4.2 pts less harm, −3.0 win-rate pts (within noise)": the signed deltas, in words. */
export function deltaWords(delta: DeltaCell, reference: string): string {
  const parts: string[] = [];
  if (delta.harm_reduction_pts !== null) {
    const v = delta.harm_reduction_pts;
    parts.push(`${fmt(Math.abs(v))} pts ${v >= 0 ? "less" : "more"} harm than ${reference}${delta.harm_significant ? " (significant)" : " (within noise)"}`);
  }
  if (delta.win_rate_pts !== null) {
    const v = delta.win_rate_pts;
    parts.push(`${v >= 0 ? "+" : "−"}${fmt(Math.abs(v))} win-rate pts${delta.win_significant ? " (significant)" : " (within noise)"}`);
  }
  return parts.join(", ");
}

function fmt(v: number | null): string {
  return v === null ? "n/a" : v.toFixed(1);
}
