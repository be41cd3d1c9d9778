import { createHash } from "node:crypto";
import pLimit from "p-limit";
import type { Sample } from "../datasets/types.ts";
import { InputError } from "../errors.ts";
import { Causes } from "../util/causes.ts";
import { deadline } from "../util/http-client.ts";
import { AimdLimit } from "./aimd.ts";
import { withRetries, type AttemptOutcome, type RetryPolicy } from "./retry.ts";
import type { RecordStore } from "./store.ts";
import type { Backend, ChatMessage, DecodingParams, GenerationResult } from "./types.ts";

/** One JSONL line of a run's generations: everything needed to judge, audit or re-run it. */
export interface GenerationRecord {
  key: string;
  status: "done" | "error";
  model: string;
  fingerprint: string;
  dataset: string;
  kind: string;
  language: string;
  id: string;
  sourceId?: string;
  prompt: string;
  /** The dataset's reference answer, where it has one (Dolly `targets`), for reference-based judges. */
  reference?: string;
  messages: ChatMessage[];
  renderedPrompt?: string;
  decoding: DecodingParams;
  output?: string;
  error?: string;
  promptTokens?: number;
  completionTokens?: number;
  finishReason?: string;
  attempts: number;
  latencyMs: number;
  time: string;
}

export interface RunOptions {
  /** The model's name in records and file names. */
  model: string;
  backend: Backend;
  samples: readonly Sample[];
  decoding: DecodingParams;
  store: RecordStore<GenerationRecord>;
  /** Done records already in the store, by key. */
  done: ReadonlyMap<string, GenerationRecord>;
  concurrency: number;
  timeoutMs: number;
  retry: RetryPolicy;
  system?: string;
  signal?: AbortSignal;
  /**
   * Asked before each request that is not cached, retries included; false leaves the sample undone and unrecorded
   * (a budget ran out).
   */
  admit?: (sample: Sample, messages: ChatMessage[]) => boolean;
  onRecord?: (record: GenerationRecord, cached: boolean) => void;
  onWarning?: (message: string) => void;
}

export interface RunSummary {
  total: number;
  cached: number;
  done: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  requests: number;
  /** Samples `admit` refused: left for a later run. */
  skipped: number;
  /** Why this run's failures failed, grouped. */
  causes: Causes;
  seconds: number;
  /** Finished requests per second of wall time (cached samples excluded). */
  requestsPerSecond: number;
}

export function messagesFor(sample: Sample, system?: string): ChatMessage[] {
  return [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user", content: sample.prompt }];
}

/**
 * The cache key: model fingerprint, the prompt exactly as the model sees it (rendered by a local backend, else
 * the messages the server will render) and the decoding parameters (seed included).
 */
export function generationKey(fingerprint: string, prompt: string | ChatMessage[], decoding: DecodingParams): string {
  return createHash("sha256").update(JSON.stringify({ fingerprint, prompt, decoding })).digest("hex");
}

/** Generates every sample not already done, a few at a time, appending a record as each one ends. */
export async function runGeneration(options: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  const { backend, decoding, store } = options;
  const fingerprint = await backend.fingerprint();
  const aimd = new AimdLimit(options.concurrency);
  const limit = pLimit(options.concurrency);
  const setLimit = (n: number) => {
    if (limit.concurrency !== n) limit.concurrency = n;
  };
  const summary = { total: options.samples.length, cached: 0, done: 0, errors: 0, promptTokens: 0, completionTokens: 0, requests: 0, skipped: 0, causes: new Causes() };
  const seen = new Set<string>();
  let probed: Promise<void> | undefined;
  /** Before the first request: an endpoint that is down, refuses the key or lacks the model stops the run in seconds. */
  const ready = () =>
    (probed ??= (async () => {
      const result = await backend.probe?.();
      result?.warnings.forEach((w) => options.onWarning?.(w));
      if (result?.problems.length) throw new InputError(`cannot generate with ${options.model}:\n  ${result.problems.join("\n  ")}`);
    })());

  /** One sample's request with its retries, timed from when it gets a slot (queueing excluded). */
  const request = async (sample: Sample, messages: ChatMessage[]): Promise<AttemptOutcome<GenerationResult> & { latencyMs: number }> => {
    const start = performance.now();
    if (options.signal?.aborted) return { attempts: 0, latencyMs: 0 };
    const outcome = await withRetries(() => attemptOnce(backend, messages, decoding, options.timeoutMs, options.signal), options.retry, {
      onRetryable: (err) => {
        if (err.status === 429) setLimit(aimd.onRateLimited());
      },
      ...(options.admit ? { mayRetry: () => options.admit!(sample, messages) } : {}),
    });
    return { ...outcome, latencyMs: Math.round(performance.now() - start) };
  };

  const one = async (sample: Sample): Promise<void> => {
    const messages = messagesFor(sample, options.system);
    const renderedPrompt = backend.render ? await backend.render(messages) : undefined;
    const key = generationKey(fingerprint, renderedPrompt ?? messages, decoding);
    const cached = options.done.get(key);
    if (cached || seen.has(key)) {
      summary.cached++;
      if (cached) options.onRecord?.(cached, true);
      return;
    }
    seen.add(key);
    if (options.admit && !options.admit(sample, messages)) {
      summary.skipped++;
      return;
    }
    await ready();
    const outcome = await limit(() => request(sample, messages));
    if (options.signal?.aborted) return; // interrupted: nothing recorded, so the next run redoes it
    if (outcome.refused) {
      summary.skipped++;
      return;
    }
    const base = {
      key, model: options.model, fingerprint, dataset: sample.dataset, kind: sample.kind, language: sample.language, id: sample.id,
      ...(sample.sourceId !== undefined ? { sourceId: sample.sourceId } : {}),
      ...(sample.reference !== undefined ? { reference: sample.reference } : {}),
      prompt: sample.prompt, messages, decoding, attempts: outcome.attempts, latencyMs: outcome.latencyMs, time: new Date().toISOString(),
    };
    let record: GenerationRecord;
    if (outcome.value) {
      const r: GenerationResult = outcome.value;
      record = {
        ...base, status: "done", output: r.text, renderedPrompt: r.renderedPrompt ?? renderedPrompt,
        promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: r.finishReason,
      };
      summary.done++;
      summary.promptTokens += r.promptTokens ?? 0;
      summary.completionTokens += r.completionTokens ?? 0;
      setLimit(aimd.onSuccess());
    } else {
      record = { ...base, status: "error", error: outcome.error?.message ?? "unknown error", renderedPrompt };
      summary.errors++;
      summary.causes.add(record.error!);
    }
    summary.requests++;
    await store.append(record);
    options.onRecord?.(record, false);
  };

  await Promise.all(options.samples.map(one));
  const seconds = (performance.now() - started) / 1000;
  return { ...summary, seconds, requestsPerSecond: summary.requests / Math.max(seconds, 1e-9) };
}

async function attemptOnce(
  backend: Backend,
  messages: ChatMessage[],
  decoding: DecodingParams,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<GenerationResult> {
  const { signal, clear } = deadline(timeoutMs, outer);
  try {
    return await backend.generate({ messages, decoding }, signal);
  } finally {
    clear();
  }
}
