import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { closeFolderHint } from "../util/suggest.ts";

/**
 * Model references as mergekit writes them (mergekit/common.py, ModelReference and ModelPath):
 * `MODEL[@revision][+ADAPTER[@revision]]`, where MODEL and ADAPTER are each a folder or a Hugging Face id.
 * More than one "+" ("Can't parse") or more than one "@" in a part ("multiple @") is an error, as there.
 * Nothing is ever downloaded: ids are looked up in the local Hugging Face cache.
 */

export interface ModelPath {
  path: string;
  revision?: string;
}

export interface ParsedModelRef {
  model: ModelPath;
  /** A PEFT LoRA adapter to add to the model's weights (`model+adapter`). */
  lora?: ModelPath;
}

export function parseModelRef(ref: string): ParsedModelRef {
  const chunks = ref.split("+");
  if (chunks.length > 2) throw new InputError(`model "${ref}": more than one "+" (a reference is MODEL or MODEL+LORA_ADAPTER)`);
  const part = (text: string, what: string): ModelPath => {
    const pieces = text.split("@");
    if (pieces.length > 2) throw new InputError(`model "${ref}": more than one "@" in the ${what}`);
    const [path, revision] = pieces as [string, string | undefined];
    if (!path) throw new InputError(`model "${ref}": the ${what} is empty`);
    if (revision !== undefined && !revision) throw new InputError(`model "${ref}": "@" with no revision after it in the ${what}`);
    return revision === undefined ? { path } : { path, revision };
  };
  const model = part(chunks[0]!, "model");
  return chunks.length === 2 ? { model, lora: part(chunks[1]!, "LoRA adapter") } : { model };
}

export interface ModelSource {
  /** The model's folder. */
  dir: string;
  /** The LoRA adapter's folder, for `model+adapter`. */
  adapter?: { ref: string; dir: string };
}

/** Resolves `model[+adapter]` to local folders (paths relative to `cwd`, or ids in the Hugging Face cache). */
export function resolveModelSource(ref: string, cwd: string, env: NodeJS.ProcessEnv = process.env): ModelSource {
  const parsed = parseModelRef(ref);
  const dir = resolveModelPath(parsed.model, `model "${ref}"`, cwd, env);
  if (!parsed.lora) return { dir };
  const adapterRef = formatModelPath(parsed.lora);
  return { dir, adapter: { ref: adapterRef, dir: resolveModelPath(parsed.lora, `LoRA adapter "${adapterRef}" of model "${ref}"`, cwd, env) } };
}

/**
 * Resolves a plain model reference to its folder. A LoRA reference (`model+adapter`) names two folders and is
 * refused here: resolveModelSource resolves both.
 */
export function resolveModelRef(ref: string, cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const parsed = parseModelRef(ref);
  if (parsed.lora) throw new InputError(`model "${ref}": a LoRA reference (model+adapter) names two folders; resolve it with resolveModelSource`);
  return resolveModelPath(parsed.model, `model "${ref}"`, cwd, env);
}

export function formatModelPath({ path, revision }: ModelPath): string {
  return revision ? `${path}@${revision}` : path;
}

function resolveModelPath({ path: name, revision }: ModelPath, what: string, cwd: string, env: NodeJS.ProcessEnv): string {
  const local = resolve(cwd, name);
  if (existsSync(local) && statSync(local).isDirectory()) {
    if (revision) throw new InputError(`${what}: @${revision} only applies to Hugging Face ids, but ${local} is a local folder`);
    return local;
  }
  const hub = hubCacheDir(env);
  const isId = /^[\w.-]+\/[\w.-]+$/.test(name);
  if (isId) {
    const cached = findInHubCache(hub, name, revision);
    if (cached) return cached;
  }
  throw new InputError(
    `${what}: no folder at ${local}` +
      (isId ? ` and no snapshot${revision ? ` for revision ${revision}` : ""} in the Hugging Face cache ${hub}` : "") +
      " (mergeval never downloads models: fetch them first, e.g. with `huggingface-cli download`)" +
      closeFolderHint(name, cwd),
  );
}

export function hubCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return join(env.HF_HOME ?? join(homedir(), ".cache", "huggingface"), "hub");
}

function findInHubCache(hub: string, id: string, revision: string | undefined): string | undefined {
  const repo = join(hub, `models--${id.replace("/", "--")}`);
  const snapshots = join(repo, "snapshots");
  if (!existsSync(snapshots)) return undefined;
  const ref = join(repo, "refs", revision ?? "main");
  if (existsSync(ref)) {
    const commit = readFileSync(ref, "utf8").trim();
    if (existsSync(join(snapshots, commit))) return join(snapshots, commit);
  }
  if (revision) return existsSync(join(snapshots, revision)) ? join(snapshots, revision) : undefined;
  const all = readdirSync(snapshots);
  if (all.length === 1) return join(snapshots, all[0]!);
  if (all.length > 1) throw new InputError(`model "${id}": ${all.length} snapshots in ${snapshots} and no refs/main; name one with ${id}@<commit>`);
  return undefined;
}
