import { seededRng } from "../merge/rng.ts";
import { containsZero, type Interval } from "./interval.ts";

/** Declared in interval.ts; re-exported so existing `import type { Interval } from "…/bootstrap.ts"` keeps working. */
export type { Interval };

/**
 * Paired, clustered bootstrap: each unit is one prompt with every model's value on it; resampling draws whole
 * clusters (prompts sharing a source_id across languages) with replacement, and every model sees the same
 * resample, so differences between models keep their pairing.
 */
export interface Unit {
  /** Units in one cluster are resampled together (e.g. the translations of one source prompt). */
  cluster: string;
  /** Value per model on this prompt: 1/0 harmful, 1/½/0 win/tie/loss… */
  values: Readonly<Record<string, number>>;
}

export interface BootstrapOptions {
  iterations?: number;
  seed?: number;
  level?: number;
}

/** Percentile interval of `statistic` over `iterations` cluster resamples (seeded, so reports are stable). */
export function pairedBootstrap(units: readonly Unit[], statistic: (sample: readonly Unit[]) => number, options: BootstrapOptions = {}): Interval {
  const { iterations = 2000, seed = 0, level = 0.95 } = options;
  const estimate = statistic(units);
  const clusters = [...groupBy(units, (u) => u.cluster).values()];
  const rng = seededRng("bootstrap", seed);
  const draws: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const sample: Unit[] = [];
    for (let c = 0; c < clusters.length; c++) sample.push(...clusters[Math.floor(rng.next() * clusters.length)]!);
    const value = statistic(sample);
    if (Number.isFinite(value)) draws.push(value);
  }
  draws.sort((a, b) => a - b);
  const low = quantile(draws, (1 - level) / 2);
  const high = quantile(draws, 1 - (1 - level) / 2);
  return { estimate, low, high, withinNoise: containsZero(low, high) };
}

/** Linear-interpolated quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const i = Math.floor(at);
  const f = at - i;
  return sorted[i]! + f * ((sorted[Math.min(i + 1, sorted.length - 1)] ?? sorted[i]!) - sorted[i]!);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
