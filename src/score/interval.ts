/** A point estimate with a two-sided confidence interval around it. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  /** The interval contains 0: a difference this size is within noise. Only meaningful for differences; rates set it false. */
  withinNoise: boolean;
}

/** The interval [low, high] contains 0 (false when either end is NaN). */
export function containsZero(low: number, high: number): boolean {
  return low <= 0 && high >= 0;
}

/** The interval every function here returns for no data: NaN throughout, never "within noise". */
export const emptyInterval: Interval = Object.freeze({ estimate: NaN, low: NaN, high: NaN, withinNoise: false });
