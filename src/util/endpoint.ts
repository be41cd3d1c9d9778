import { InputError } from "../errors.ts";
import { getUrl, postJson, type HttpReply } from "./http-client.ts";

/**
 * What mergeval knows about reaching an OpenAI-compatible endpoint before and while it sends work there: base URL
 * validation, a probe that fails in seconds with the cause and the fix, and the transport failures that mean the
 * server is not there at all (which a circuit breaker counts).
 */

/** A base URL as given (`http://host:8000/v1`); anything but http(s) is refused with the fix. */
export function parseBaseUrl(raw: string, where: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw.endsWith("/") ? raw : `${raw}/`);
  } catch {
    url = undefined;
  }
  // `localhost:8000/v1` parses, with "localhost:" as its scheme.
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    const hint = /^[\w.-]+:\d+/.test(raw) || !raw.includes("://") ? `: write it with its scheme, e.g. http://${raw.replace(/^\/+/, "")}` : "";
    throw new InputError(`${where}: "${raw}" is not an http(s) URL${hint}`);
  }
  return url;
}

/** Transport error codes meaning nothing usable is at that address (as opposed to a slow or busy server). */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused: nothing is listening there; is the server running, on that port?",
  ENOTFOUND: "DNS: the host name does not resolve; check its spelling",
  EAI_AGAIN: "DNS: the host name could not be resolved right now",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  ECONNRESET: "the server closed the connection",
  EPIPE: "the server closed the connection",
  EPROTO: "TLS: the handshake failed; is it an http:// server given as https://?",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS: the server's certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS: a self-signed certificate in the chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS: the server's certificate cannot be verified",
  CERT_HAS_EXPIRED: "TLS: the server's certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS: the certificate does not match the host name",
  ERR_SSL_WRONG_VERSION_NUMBER: "TLS: the server does not speak TLS; use http://, not https://",
};

/** The plain-language cause of a transport error code, when it means the endpoint cannot be reached. */
export function unreachableCause(code: string | undefined): string | undefined {
  return code === undefined ? undefined : UNREACHABLE[code];
}

export interface EndpointTarget {
  baseUrl: string;
  model: string;
  /** The NAME of the variable holding the key (read here, never written). */
  apiKeyEnv?: string;
  /** Who uses it, for messages: "model mix15", "judge llm-harm". */
  usedBy: string;
}

export interface ProbeOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** A dry run: a key variable that is not set is a note (the run will need it), not a failure. */
  keysOptional?: boolean;
}

export interface ProbeResult {
  target: EndpointTarget;
  /** undefined: reachable, key accepted, model served. */
  problem?: string;
  note?: string;
}

/**
 * Asks the endpoint for its model list (`GET {base}/models`, as vLLM, TGI, llama.cpp, Ollama and hosted APIs
 * serve it) and checks the model is there. A server without the list is asked for one token instead.
 */
export async function probeEndpoint(target: EndpointTarget, options: ProbeOptions = {}): Promise<ProbeResult> {
  const env = options.env ?? process.env;
  const at = `${target.usedBy}: ${target.baseUrl}`;
  let base: URL;
  try {
    base = parseBaseUrl(target.baseUrl, target.usedBy);
  } catch (err) {
    return { target, problem: (err as Error).message };
  }
  const key = target.apiKeyEnv ? env[target.apiKeyEnv] : undefined;
  let note: string | undefined;
  if (target.apiKeyEnv && !key) {
    if (!options.keysOptional) return { target, problem: `${at}: the API key variable ${target.apiKeyEnv} (api_key_env) is not set` };
    note = `${at}: ${target.apiKeyEnv} is not set here; the run will need it`;
  }
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const timeoutMs = options.timeoutMs ?? 5000;
  const ask = async (send: (signal: AbortSignal) => Promise<HttpReply>): Promise<HttpReply | string> => {
    try {
      return await send(AbortSignal.timeout(timeoutMs));
    } catch (err) {
      const { code, name, message } = err as { code?: string; name?: string; message?: string };
      if (name === "TimeoutError" || name === "AbortError") return `no answer within ${timeoutMs / 1000} s`;
      return unreachableCause(code) ? `${code}: ${unreachableCause(code)}` : `${code ?? message ?? String(err)}`;
    }
  };
  const listed = await ask((signal) => getUrl(new URL("models", base), headers, signal));
  if (typeof listed === "string") return { target, problem: `${at}: ${listed}` };
  const authProblem = authFailure(listed, target, Boolean(key));
  if (authProblem) return options.keysOptional && !key ? { target, note: `${at}: ${authProblem}` } : { target, problem: `${at}: ${authProblem}` };
  if (listed.status >= 200 && listed.status < 300) {
    const served = modelIds(listed.body);
    if (served === undefined || served.includes(target.model)) return { target, ...(note ? { note } : {}) };
    return { target, problem: `${at}: does not serve model "${target.model}"; it serves ${served.map((m) => `"${m}"`).join(", ")} (check model: / --model)` };
  }
  if (listed.status !== 404 && listed.status !== 405) return { target, problem: `${at}: HTTP ${listed.status} from ${new URL("models", base).href} ${listed.body.slice(0, 160)}` };
  // No model list here: one token from the completion route says whether the base URL and the model are right.
  const body = JSON.stringify({ model: target.model, messages: [{ role: "user", content: "ping" }], max_tokens: 1, temperature: 0 });
  const tried = await ask((signal) => postJson(new URL("chat/completions", base), body, headers, signal));
  if (typeof tried === "string") return { target, problem: `${at}: ${tried}` };
  const authAgain = authFailure(tried, target, Boolean(key));
  if (authAgain) return { target, problem: `${at}: ${authAgain}` };
  if (tried.status === 404) {
    return { target, problem: `${at}: HTTP 404 for ${new URL("chat/completions", base).href} ${tried.body.slice(0, 160)} (check the base URL — OpenAI-compatible servers usually end in /v1 — and the model name)` };
  }
  if (tried.status >= 400 && tried.status < 500) return { target, problem: `${at}: HTTP ${tried.status} ${tried.body.slice(0, 200)}` };
  return { target, ...(note ? { note } : {}) };
}

function authFailure(reply: HttpReply, target: EndpointTarget, keySent: boolean): string | undefined {
  if (reply.status !== 401 && reply.status !== 403) return undefined;
  if (!keySent) return `HTTP ${reply.status}: the server wants an API key and none was sent (name the variable holding it with api_key_env / --api-key-env)`;
  return `HTTP ${reply.status}: the server refused the API key in ${target.apiKeyEnv} (check the key, and that api_key_env / --api-key-env names the right variable)`;
}

/**
 * The `data[].id` of an OpenAI model list; undefined when the reply is not one or lists nothing (a proxy that
 * does not say what it routes): then the model is not checked here, and a wrong name fails on the first request.
 */
function modelIds(body: string): string[] | undefined {
  try {
    const json = JSON.parse(body) as { data?: { id?: unknown }[] };
    if (!Array.isArray(json.data) || json.data.length === 0) return undefined;
    return json.data.map((m) => m.id).filter((id): id is string => typeof id === "string");
  } catch {
    return undefined;
  }
}
