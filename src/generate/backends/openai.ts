import { createHash } from "node:crypto";
import { InputError } from "../../errors.ts";
import { parseBaseUrl, probeEndpoint, unreachableCause } from "../../util/endpoint.ts";
import { postJson, type HttpReply } from "../../util/http-client.ts";
import { CircuitBreaker } from "../circuit-breaker.ts";
import { parseRetryAfter } from "../retry.ts";
import { BackendError, type Backend, type ChatMessage, type GenerationRequest, type GenerationResult } from "../types.ts";

export interface OpenAIOptions {
  /** One or more base URLs serving the same model (e.g. a vLLM fleet), each ending where `/chat/completions` goes. */
  baseUrls: string[];
  model: string;
  /** The NAME of the environment variable holding the API key; the key itself is never stored or written. */
  apiKeyEnv?: string;
  /** "chat" posts messages to /chat/completions; "completions" posts the user text to /completions. */
  mode?: "chat" | "completions";
  env?: NodeJS.ProcessEnv;
  /** Connection failures in a row after which an endpoint is not sent to (default 3). */
  breakerThreshold?: number;
}

/**
 * Any OpenAI-compatible server: vLLM, TGI, llama.cpp server, Ollama, hosted APIs. Requests go to the base URL
 * with the fewest in flight, so several URLs spread the load.
 */
export function createOpenAIBackend(options: OpenAIOptions): Backend {
  if (options.baseUrls.length === 0) throw new InputError("openai backend: give at least one base URL");
  const bases = options.baseUrls.map((u) => parseBaseUrl(u, "openai backend"));
  const mode = options.mode ?? "chat";
  const urls = bases.map((base) => new URL(mode === "chat" ? "chat/completions" : "completions", base));
  let apiKey: string | undefined;
  if (options.apiKeyEnv) {
    apiKey = (options.env ?? process.env)[options.apiKeyEnv];
    if (!apiKey) throw new InputError(`openai backend: environment variable ${options.apiKeyEnv} (named for the API key) is not set`);
  }
  const inFlight = urls.map(() => 0);
  const breakers = urls.map(() => new CircuitBreaker(options.breakerThreshold));
  // The first URL names the deployment: adding machines to a fleet keeps the cache valid.
  const fingerprint = createHash("sha256").update(`openai\u0000${bases[0]!.href}\u0000${options.model}`).digest("hex");

  return {
    kind: "openai",
    fingerprint: async () => fingerprint,
    async probe() {
      const results = await Promise.all(
        options.baseUrls.map((baseUrl) => probeEndpoint({ baseUrl, model: options.model, usedBy: `model ${options.model}`, ...(options.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv } : {}) }, { ...(options.env ? { env: options.env } : {}) })),
      );
      const problems = results.flatMap((r) => (r.problem ? [r.problem] : []));
      // A fleet works on with its healthy members; the others are not sent to.
      if (problems.length === results.length) return { problems, warnings: [] };
      results.forEach((r, i) => r.problem && breakers[i]!.failure(r.problem));
      return { problems: [], warnings: problems.map((p) => `${p} (left out of the fleet)`) };
    },
    async generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationResult> {
      // The least busy endpoint among those whose breaker lets a request through.
      let index = -1;
      for (let i = 0; i < urls.length; i++) if ((index < 0 || inFlight[i]! < inFlight[index]!) && breakers[i]!.canSend()) index = i;
      if (index < 0) throw new BackendError(`${urls[0]!.origin}: ${breakers[0]!.describe()}`, false);
      breakers[index]!.sending();
      inFlight[index]!++;
      try {
        const result = await post(urls[index]!, mode, options.model, apiKey, request, signal);
        breakers[index]!.success();
        return result;
      } catch (err) {
        const error = err as BackendError;
        if (error.unreachable) breakers[index]!.failure(error.message.slice(urls[index]!.origin.length + 2));
        else if (error.status !== undefined) breakers[index]!.success();
        throw err;
      } finally {
        inFlight[index]!--;
      }
    },
  };
}

async function post(
  url: URL,
  mode: "chat" | "completions",
  model: string,
  apiKey: string | undefined,
  { messages, decoding }: GenerationRequest,
  signal: AbortSignal,
): Promise<GenerationResult> {
  const body = {
    model,
    ...(mode === "chat" ? { messages } : { prompt: plainPrompt(messages) }),
    max_tokens: decoding.maxTokens,
    temperature: decoding.temperature,
    ...(decoding.topP !== undefined ? { top_p: decoding.topP } : {}),
    ...(decoding.seed !== undefined ? { seed: decoding.seed } : {}),
  };
  let reply: HttpReply;
  try {
    reply = await postJson(url, JSON.stringify(body), apiKey ? { authorization: `Bearer ${apiKey}` } : {}, signal);
  } catch (err) {
    throw transportError(err, url, signal);
  }
  if (reply.status < 200 || reply.status >= 300) {
    const retryable = reply.status === 429 || reply.status === 408 || reply.status >= 500;
    const retryAfter = reply.headers["retry-after"];
    throw new BackendError(
      `${url.origin}: HTTP ${reply.status} ${reply.body.slice(0, 200)}`,
      retryable,
      reply.status,
      parseRetryAfter(typeof retryAfter === "string" ? retryAfter : null),
    );
  }
  const text = reply.body;
  return parseCompletion(text, mode, url);
}

/** Connection refused/reset, a dropped reply or a timeout can be retried; the user's own abort cannot. */
function transportError(err: unknown, url: URL, signal: AbortSignal): BackendError {
  const reason = signal.reason as { name?: string; message?: string } | undefined;
  if (signal.aborted) {
    return reason?.name === "TimeoutError" ? new BackendError(`${url.origin}: ${reason.message}`, true) : new BackendError(`${url.origin}: aborted`, false);
  }
  const { code, message } = err as { code?: string; message?: string };
  const cause = unreachableCause(code);
  return new BackendError(`${url.origin}: ${cause ? `${code}, ${cause}` : (code ?? message ?? String(err))}`, true, undefined, undefined, cause !== undefined);
}

function parseCompletion(text: string, mode: "chat" | "completions", url: URL): GenerationResult {
  let json: {
    choices?: { message?: { content?: string | null }; text?: string; finish_reason?: string }[];
    usage?: { prompt_tokens?: number; completion_tokens?: number };
  };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new BackendError(`${url.origin}: reply is not JSON: ${text.slice(0, 200)}`, true);
  }
  const choice = json.choices?.[0];
  const content = mode === "chat" ? choice?.message?.content : choice?.text;
  if (typeof content !== "string") throw new BackendError(`${url.origin}: reply has no ${mode === "chat" ? "choices[0].message.content" : "choices[0].text"}`, false);
  return {
    text: content,
    promptTokens: json.usage?.prompt_tokens,
    completionTokens: json.usage?.completion_tokens,
    finishReason: choice?.finish_reason,
  };
}

/** For plain completions: the conversation's text, system first, as one prompt. */
function plainPrompt(messages: ChatMessage[]): string {
  return messages.map((m) => m.content).join("\n\n");
}
