import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";

/**
 * Resolves a mergekit model reference to a local folder: a path (relative to `cwd`), or an `org/name[@revision]`
 * id found in the local Hugging Face cache. Nothing is ever downloaded.
 */
export function resolveModelRef(ref: string, cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.includes("+")) throw new InputError(`model "${ref}": LoRA references (model+lora) are not supported yet`);
  const parts = ref.split("@");
  if (parts.length > 2) throw new InputError(`model "${ref}": more than one "@" in the reference`);
  const [name, revision] = parts as [string, string | undefined];
  const local = resolve(cwd, name);
  if (existsSync(local) && statSync(local).isDirectory()) {
    if (revision) throw new InputError(`model "${ref}": @${revision} only applies to Hugging Face ids, but ${local} is a local folder`);
    return local;
  }
  const hub = hubCacheDir(env);
  if (/^[\w.-]+\/[\w.-]+$/.test(name)) {
    const cached = findInHubCache(hub, name, revision);
    if (cached) return cached;
  }
  throw new InputError(
    `model "${ref}": no folder at ${local}` +
      (/^[\w.-]+\/[\w.-]+$/.test(name) ? ` and no snapshot${revision ? ` for revision ${revision}` : ""} in the Hugging Face cache ${hub}` : "") +
      " (mergeval never downloads models: fetch them first, e.g. with `huggingface-cli download`)",
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
