import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Sample } from "../datasets/types.ts";
import { createOpenAIBackend } from "../generate/backends/openai.ts";
import { generationsFile, type GenerateOptions } from "../generate/index.ts";
import { DEFAULT_RETRY } from "../generate/retry.ts";
import { generationKey, messagesFor, runGeneration, type GenerationRecord, type RunSummary } from "../generate/runner.ts";
import { RecordStore } from "../generate/store.ts";
import type { DecodingParams } from "../generate/types.ts";

/**
 * A served model's identity in cache keys. An endpoint's fingerprint names its URL, but a server mergeval starts
 * gets a new port every run: this one names the model, its folder and (for merges) the recipe it was merged from,
 * so a rerun reuses its generations and a changed recipe makes new ones. Server flags are not part of it.
 */
export function servedFingerprint(model: string, path: string, recipe: string | undefined): string {
  return createHash("sha256").update(`served\u0000${model}\u0000${path}\u0000${recipe ?? ""}`).digest("hex");
}

/** Which samples the run folder already holds for a served model (exactly the runner's cache keys: nothing to render). */
export async function servedDone(runDir: string, model: string, fingerprint: string, samples: readonly Sample[], decoding: DecodingParams, system: string | undefined): Promise<Set<Sample>> {
  const text = await readFile(generationsFile(runDir, model), "utf8").catch(() => "");
  const keys = new Set<string>();
  for (const line of text.split("\n")) {
    try {
      const r = JSON.parse(line) as GenerationRecord;
      if (r.status === "done") keys.add(r.key);
    } catch {
      // blank or torn line
    }
  }
  return new Set(samples.filter((s) => keys.has(generationKey(fingerprint, messagesFor(s, system), decoding))));
}

export interface ServedGenerateOptions extends Omit<GenerateOptions, "backend"> {
  /** The started server's base URL; undefined when no server runs (every request must then be refused by `admit`). */
  baseUrl: string | undefined;
  /** The name the server serves the model under. */
  servedModel: string;
  fingerprint: string;
}

/**
 * `generate` (src/generate) on a server mergeval started: the same store, runner and defaults, with the served
 * model's stable fingerprint in place of the endpoint's.
 */
export async function generateServed(options: ServedGenerateOptions): Promise<RunSummary & { file: string }> {
  // Never asked when no server runs: admit refuses every request before the runner probes the endpoint.
  const openai = createOpenAIBackend({ baseUrls: [options.baseUrl ?? "http://127.0.0.1:9/v1"], model: options.servedModel });
  const backend = { ...openai, fingerprint: async () => options.fingerprint };
  const file = generationsFile(options.runDir, options.model);
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
      concurrency: options.concurrency ?? 16,
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
}
