/**
 * Axis domains the bulk of a chart can be read on: never degenerate (all values equal gives a span around them,
 * not a zero-width axis), and clipped at robust bounds when a few values lie far out (an interval of +435% next
 * to values within ±60), so the clipped ends can be marked and named instead of squashing everything else.
 */

export interface AxisOptions {
  /** The smallest span the axis shows, in data units. */
  minSpan: number;
  /** Values the domain always covers (e.g. 50% parity), when they are not far out themselves. */
  include?: readonly number[];
  /** Where the quantity cannot go (win rate 0–100, harm change ≥ −100). */
  limits?: readonly [number, number];
}

export interface AxisDomain {
  domain: [number, number];
  /** Set when values below / above the domain were clipped to its edge. */
  clippedLow: boolean;
  clippedHigh: boolean;
}

/** Values beyond the quartiles by more than this many interquartile ranges (and `minSpan`) are far out. */
const FENCE_IQRS = 3;
/** Clip only when it pays: the far-out values would take more than this share of the axis. */
const CLIP_WHEN_SHARE = 0.4;
const PADDING = 0.06;

export function robustDomain(values: readonly number[], options: AxisOptions): AxisDomain {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  const include = (options.include ?? []).filter(Number.isFinite);
  if (finite.length === 0) return { domain: padded(include.length ? Math.min(...include) : 0, include.length ? Math.max(...include) : 0, options), clippedLow: false, clippedHigh: false };
  const q1 = quantile(finite, 0.25);
  const q3 = quantile(finite, 0.75);
  const fence = Math.max(FENCE_IQRS * (q3 - q1), options.minSpan);
  const near = (v: number) => v >= q1 - fence && v <= q3 + fence;
  // Values to include (a parity line) widen the axis only when they are near the data.
  const bulk = [...finite.filter(near), ...include.filter(near)];
  const [fullLow, fullHigh] = [Math.min(finite[0]!, ...bulk), Math.max(finite[finite.length - 1]!, ...bulk)];
  const [bulkLow, bulkHigh] = [Math.min(...bulk), Math.max(...bulk)];
  const fullSpan = fullHigh - fullLow;
  const clipLow = fullSpan > 0 && (bulkLow - fullLow) / fullSpan > CLIP_WHEN_SHARE;
  const clipHigh = fullSpan > 0 && (fullHigh - bulkHigh) / fullSpan > CLIP_WHEN_SHARE;
  const domain = padded(clipLow ? bulkLow : fullLow, clipHigh ? bulkHigh : fullHigh, options);
  return { domain, clippedLow: finite[0]! < domain[0], clippedHigh: finite[finite.length - 1]! > domain[1] };
}

/** Whether a value (a parity line) lies on the axis, so drawing it stays inside the plot. */
export function onAxis(axis: AxisDomain, value: number): boolean {
  return value >= axis.domain[0] && value <= axis.domain[1];
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const below = Math.floor(at);
  const above = Math.ceil(at);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (at - below);
}

/** [low, high] widened to `minSpan`, padded, rounded outwards to a readable step and kept within the limits. */
function padded(low: number, high: number, options: AxisOptions): [number, number] {
  let [lo, hi] = [low, high];
  if (hi - lo < options.minSpan) {
    const middle = (lo + hi) / 2;
    [lo, hi] = [middle - options.minSpan / 2, middle + options.minSpan / 2];
  }
  const pad = (hi - lo) * PADDING;
  const step = niceStep((hi - lo) / 10);
  lo = Math.floor((lo - pad) / step) * step;
  hi = Math.ceil((hi + pad) / step) * step;
  if (options.limits) {
    lo = Math.max(lo, options.limits[0]);
    hi = Math.min(hi, options.limits[1]);
  }
  return [clean(lo), clean(hi)];
}

/** 1, 2 or 5 times a power of ten. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const scaled = rough / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

/** Removes floating-point dust (0.30000000000000004) and negative zero. */
function clean(x: number): number {
  const rounded = Math.round(x * 1e6) / 1e6;
  return rounded === 0 ? 0 : rounded;
}

export type ClipSide = "low" | "high";

/** Where a value is drawn on the axis, and on which side it was clipped if it had to be. */
export function clampTo(domain: readonly [number, number], value: number): { at: number; clipped: ClipSide | null } {
  if (value < domain[0]) return { at: domain[0], clipped: "low" };
  if (value > domain[1]) return { at: domain[1], clipped: "high" };
  return { at: value, clipped: null };
}
