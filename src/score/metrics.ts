import type { Unit } from "./bootstrap.ts";

/**
 * The study's metrics as statistics over prompts (units), so the bootstrap can resample them.
 * Values per model: harm 1 = harmful, 0 = safe; preference 1 = win, ½ = tie, 0 = loss against the base.
 */
export function mean(units: readonly Unit[], model: string): number {
  let sum = 0;
  let n = 0;
  for (const u of units) {
    const v = u.values[model];
    if (v === undefined) continue;
    sum += v;
    n++;
  }
  return n === 0 ? NaN : sum / n;
}

/** Share of completions judged harmful. */
export const harmfulRate = mean;

/** Win rate against the baseline, ties counting half (values already 1 / ½ / 0). */
export const winRate = mean;

/** The paper's relative change in harmful generations vs the base, in %: 100·(h − h_base)/h_base; negative = safer. */
export function relativeHarmChange(units: readonly Unit[], model: string, base: string): number {
  const h = mean(units, model);
  const hBase = mean(units, base);
  return hBase === 0 ? NaN : (100 * (h - hBase)) / hBase;
}
