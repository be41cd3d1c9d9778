/**
 * Server profiles (`servers:` in an experiment): how to start one inference server for one model and how to tell
 * that it is ready. Pure: templates, words, readiness rules; starting processes is server.ts's.
 */

export interface ServerProfile {
  name: string;
  /** The command template, e.g. `vllm serve {path} --port {port} --served-model-name {model}`. */
  command: string;
  /** The path polled until it answers 2xx (and, when it answers a model list, lists the model). */
  ready: string;
  startupTimeoutS: number;
  /** Between SIGTERM and SIGKILL when the server is stopped. */
  stopTimeoutS: number;
  /** Servers of this profile at once: {gpu} takes slot × gpusPerServer … (slot + 1) × gpusPerServer − 1. */
  parallel: number;
  /** GPUs each server gets ({gpu} and CUDA_VISIBLE_DEVICES); 0 sets neither (CPU servers, Ray placing its own). */
  gpusPerServer: number;
  /** Extra environment variables; their values may use the placeholders. */
  env: Record<string, string>;
}

/** One server to start: a model (or a judge) and the profile that serves it. */
export interface ServeSpec {
  /** Names the server's files in RUN/servers/ (<id>.log, <id>.pid): the model's name, judge-<model> for judges. */
  id: string;
  profile: ServerProfile;
  /** The weights folder ({path}). */
  path: string;
  /** The name the server serves the model under ({model}) and requests ask for. */
  model: string;
}

export const PLACEHOLDERS = ["path", "port", "model", "gpu"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Record<Placeholder, string>;

const PLACEHOLDER = /\{(\w+)\}/g;

/** Placeholders a template uses that are not one of {path} {port} {model} {gpu}. */
export function unknownPlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
}

export function fillPlaceholders(text: string, values: PlaceholderValues): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => ((PLACEHOLDERS as readonly string[]).includes(name) ? values[name as Placeholder] : whole));
}

/**
 * Splits a command into words as a shell does for plain words, '…' and "…" (a backslash escapes the next
 * character outside single quotes), without expanding anything: the command is run directly, not by a shell.
 */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < command.length) word += command[++i]!;
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < command.length) {
      word = (word ?? "") + command[++i]!;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

/** The words to run: the template split first, then each word filled, so a {path} with spaces stays one word. */
export function commandWords(profile: ServerProfile, values: PlaceholderValues): string[] {
  return splitWords(profile.command).map((w) => fillPlaceholders(w, values));
}

/** The GPUs of slot `slot`, as {gpu} and CUDA_VISIBLE_DEVICES take them: "2", or "2,3" with two per server. */
export function gpusOf(profile: ServerProfile, slot: number): string {
  const first = slot * profile.gpusPerServer;
  return Array.from({ length: profile.gpusPerServer }, (_, i) => String(first + i)).join(",");
}

/** The variables the server gets on top of mergeval's own: CUDA_VISIBLE_DEVICES (unless no GPUs), then the profile's. */
export function serverEnv(profile: ServerProfile, values: PlaceholderValues): Record<string, string> {
  const env: Record<string, string> = profile.gpusPerServer > 0 ? { CUDA_VISIBLE_DEVICES: values.gpu } : {};
  for (const [name, value] of Object.entries(profile.env)) env[name] = fillPlaceholders(value, values);
  return env;
}

/** A command as a user would type it: words with spaces or quotes are quoted. */
export function showCommand(words: readonly string[]): string {
  return words.map((w) => (w === "" || /[\s'"\\$`!*?;&|<>()[\]]/.test(w) ? `'${w.replace(/'/g, `'\\''`)}'` : w)).join(" ");
}

/** The OpenAI-compatible base URL of a server mergeval started on `port`. */
export function baseUrlOf(port: number): string {
  return `http://127.0.0.1:${port}/v1`;
}

export type Readiness = { ready: true } | { ready: false; why: string };

/**
 * Whether one answer of the ready path means the server can take work: 2xx, and when the answer is an OpenAI
 * model list (`/v1/models`), it lists the model. Other 2xx answers (`/health`) are enough.
 */
export function readiness(status: number, body: string, model: string): Readiness {
  if (status < 200 || status >= 300) return { ready: false, why: `HTTP ${status}${body.trim() ? ` ${body.trim().slice(0, 120)}` : ""}` };
  let ids: unknown[] | undefined;
  try {
    const data = (JSON.parse(body) as { data?: unknown }).data;
    if (Array.isArray(data)) ids = data.map((m) => (m as { id?: unknown } | null)?.id);
  } catch {
    return { ready: true };
  }
  if (ids === undefined || ids.includes(model)) return { ready: true };
  return { ready: false, why: `it lists ${ids.length ? ids.map((id) => `"${String(id)}"`).join(", ") : "no model"}, not "${model}" (check {model} in the command)` };
}

/** The last `n` non-blank lines of a log. */
export function lastLines(text: string, n: number): string[] {
  return text.split(/\r?\n|\r/).filter((l) => l.trim() !== "").slice(-n);
}
