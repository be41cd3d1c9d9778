import { setTimeout as sleep } from "node:timers/promises";
import { BackendError } from "./types.ts";

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Exponential backoff with full jitter; a server's Retry-After is a floor, never shortened. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = random() * ceiling;
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface AttemptOutcome<T> {
  value?: T;
  error?: Error;
  attempts: number;
  /** `mayRetry` said no (a budget ran out): the work is left undone, not failed. */
  refused?: boolean;
}

export interface RetryHooks {
  /** Sees each retryable failure first (the runner shrinks its concurrency on 429). */
  onRetryable?: (err: BackendError) => void;
  /** Asked before each retry is sent: every request counts against a budget, retries included. */
  mayRetry?: () => boolean;
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, runs out of retries, or `mayRetry` refuses. */
export async function withRetries<T>(attempt: () => Promise<T>, policy: RetryPolicy, hooks: RetryHooks = {}): Promise<AttemptOutcome<T>> {
  for (let n = 0; ; n++) {
    try {
      return { value: await attempt(), attempts: n + 1 };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (!(error instanceof BackendError) || !error.retryable || n >= policy.retries) return { error, attempts: n + 1 };
      hooks.onRetryable?.(error);
      await sleep(retryDelayMs(n, policy, error.retryAfterMs));
      if (hooks.mayRetry && !hooks.mayRetry()) return { error, attempts: n + 1, refused: true };
    }
  }
}
