import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Sample } from "../datasets/types.ts";
import { generationsFile } from "../generate/index.ts";
import { generationKey, messagesFor, type GenerationRecord } from "../generate/runner.ts";
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
