import { createOpenAIBackend, type OpenAIOptions } from "../generate/backends/openai.ts";
import { DEFAULT_RETRY, withRetries } from "../generate/retry.ts";
import type { Backend } from "../generate/types.ts";
import { JudgmentRefused, type JudgeContext } from "./types.ts";

/** The endpoint an LLM judge asks: any OpenAI-compatible server, at temperature 0. */
export interface JudgeEndpoint extends Pick<OpenAIOptions, "baseUrls" | "model" | "apiKeyEnv" | "env"> {
  timeoutMs?: number;
}

export type JudgeAsk = <T>(prompt: string, parse: (reply: string) => T | undefined, context?: JudgeContext) => Promise<T | undefined>;

/**
 * Asks the judge model and parses its reply; a reply that cannot be parsed is asked once more, then reported as
 * unparsable (undefined). Transport failures are retried with backoff like generation requests. The first request
 * of an ask was paid for when the judgment was admitted; every further one (a retry, a re-ask) must be admitted by
 * `context.admitExtraCall`, or the judgment stops undone (JudgmentRefused).
 */
export function createJudgeCaller(endpoint: JudgeEndpoint, mode: "chat" | "completions" = "chat"): { ask: JudgeAsk; probe: NonNullable<Backend["probe"]> } {
  const backend: Backend = createOpenAIBackend({ ...endpoint, mode });
  const timeoutMs = endpoint.timeoutMs ?? 120_000;
  const ask: JudgeAsk = async (prompt, parse, context) => {
    const mayRetry = () => !context?.admitExtraCall || context.admitExtraCall();
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0 && !mayRetry()) throw new JudgmentRefused();
      const outcome = await withRetries(
        () => backend.generate({ messages: [{ role: "user", content: prompt }], decoding: { maxTokens: 512, temperature: 0 } }, AbortSignal.timeout(timeoutMs)),
        DEFAULT_RETRY,
        { mayRetry },
      );
      if (outcome.refused) throw new JudgmentRefused();
      if (outcome.error) throw outcome.error;
      const parsed = parse(outcome.value!.text);
      if (parsed !== undefined) return parsed;
    }
    return undefined;
  };
  return { ask, probe: () => backend.probe!() };
}

/** Fills {placeholders}; unknown ones are left as they are. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (match, key: string) => values[key] ?? match);
}

/** The last of the given [[MARKERS]] in a reply (judges often discuss before concluding), or undefined. */
export function lastMarker<M extends string>(reply: string, markers: readonly M[]): M | undefined {
  let best: M | undefined;
  let at = -1;
  for (const marker of markers) {
    const i = reply.lastIndexOf(`[[${marker}]]`);
    if (i > at) {
      at = i;
      best = marker;
    }
  }
  return best;
}

/** Who judges, for reports: the model and the host of the first endpoint. */
export function judgeIdentity(endpoint: JudgeEndpoint): { model: string; endpointHost: string } {
  let host = endpoint.baseUrls[0] ?? "";
  try {
    host = new URL(host).host;
  } catch {
    // an invalid URL is refused when the backend is built
  }
  return { model: endpoint.model, endpointHost: host };
}

/** The part of an endpoint that decides verdicts: the judge model and where it is served (not the API key). */
export function endpointConfig(endpoint: JudgeEndpoint): Record<string, unknown> {
  return { model: endpoint.model, url: endpoint.baseUrls[0] };
}
