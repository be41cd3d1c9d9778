import { join } from "node:path";
import type { Sample } from "../datasets/types.ts";
import { createBackend, type BackendSpec } from "./backends/registry.ts";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { runGeneration, type GenerationRecord, type RunOptions, type RunSummary } from "./runner.ts";
import { RecordStore } from "./store.ts";
import type { DecodingParams } from "./types.ts";

export type { BackendSpec } from "./backends/registry.ts";
export type { GenerationRecord, RunSummary } from "./runner.ts";

export interface GenerateOptions {
  runDir: string;
  /** The model's name in records and in the file name RUN/generations/<model>.jsonl. */
  model: string;
  backend: BackendSpec;
  samples: readonly Sample[];
  decoding: DecodingParams;
  concurrency?: number;
  timeoutMs?: number;
  retry?: RetryPolicy;
  system?: string;
  signal?: AbortSignal;
  admit?: RunOptions["admit"];
  onStart?: (info: { total: number; cached: number; file: string; repairedBytes: number }) => void;
  onRecord?: (record: GenerationRecord, cached: boolean) => void;
  /** Not fatal: e.g. a member of an endpoint fleet that is down (left out). */
  onWarning?: (message: string) => void;
  /**
   * The model's identity in cache keys, in place of the backend's own: a server mergeval starts has a new port
   * every run, so its endpoint fingerprint would never match (src/serve names the model, folder and recipe).
   */
  fingerprint?: string;
}

export function generationsFile(runDir: string, model: string): string {
  return join(runDir, "generations", `${model.replace(/[^\w.-]+/g, "_")}.jsonl`);
}

/** Generates completions for every sample not already in the run folder, appending records as they finish. */
export async function generate(options: GenerateOptions): Promise<RunSummary & { file: string }> {
  const file = generationsFile(options.runDir, options.model);
  const created = await createBackend(options.backend.kind === "onnx" && options.onWarning ? { ...options.backend, onWarning: options.onWarning } : options.backend);
  const { fingerprint } = options;
  const backend = fingerprint === undefined ? created : { ...created, fingerprint: async () => fingerprint };
  try {
    const opened = await RecordStore.open<GenerationRecord>(file);
    try {
      options.onStart?.({ total: options.samples.length, cached: opened.done.size, file, repairedBytes: opened.repairedBytes });
      const summary = await runGeneration({
        model: options.model,
        backend,
        samples: options.samples,
        decoding: options.decoding,
        store: opened.store,
        done: opened.done,
        // A local model runs one generation at a time: more in flight would only wait in its queue and count that
        // wait against the request timeout.
        concurrency: options.concurrency ?? (options.backend.kind === "onnx" ? 1 : 16),
        timeoutMs: options.timeoutMs ?? 120_000,
        retry: options.retry ?? DEFAULT_RETRY,
        system: options.system,
        signal: options.signal,
        admit: options.admit,
        onRecord: options.onRecord,
        onWarning: options.onWarning,
      });
      return { ...summary, file };
    } finally {
      await opened.store.close();
    }
  } finally {
    await backend.close?.();
  }
}
