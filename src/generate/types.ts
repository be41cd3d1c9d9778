/** What every generation backend implements; the runner owns caching, retries and concurrency. */

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface DecodingParams {
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  /** Sampling seed; ignored when greedy. */
  seed?: number;
}

export interface GenerationRequest {
  messages: ChatMessage[];
  decoding: DecodingParams;
}

export interface GenerationResult {
  text: string;
  /** The exact prompt text the model saw, when the backend renders it (local chat templates). */
  renderedPrompt?: string;
  promptTokens?: number;
  completionTokens?: number;
  finishReason?: string;
}

export interface Backend {
  readonly kind: string;
  /** Names the model for cache keys: a weights hash for local models, endpoint + model name for servers. */
  fingerprint(): Promise<string>;
  /**
   * The prompt as the model will see it, for cache keys and records, when the backend can render it
   * without generating (local models); undefined when the server renders it.
   */
  render?(messages: ChatMessage[]): Promise<string>;
  generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationResult>;
  /**
   * Checks, in seconds, that the backend can take work (endpoints: reachable, key accepted, model served).
   * `problems` stop the run before any work; `warnings` do not (a dead member of a fleet, left out).
   */
  probe?(): Promise<{ problems: string[]; warnings: string[] }>;
  close?(): Promise<void>;
}

/** A failure the runner may retry (429, 5xx, dropped connection, timeout) or must record (4xx, bad model). */
export class BackendError extends Error {
  override readonly name = "BackendError";
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** From Retry-After, when the server sent one. */
    readonly retryAfterMs?: number,
    /** Nothing usable answered at that address (refused, DNS, TLS, reset): what a circuit breaker counts. */
    readonly unreachable = false,
  ) {
    super(message);
  }
}
