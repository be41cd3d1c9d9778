import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { toLanguageId, type LanguageId } from "../datasets/index.ts";
import { InputError } from "../errors.ts";
import type { BackendSpec } from "../generate/index.ts";
import { createJudge, judgeNames, type JudgeOptions } from "../judge/registry.ts";
import type { Judge } from "../judge/types.ts";
import { parseMergeConfig } from "../merge/config.ts";
import { randomMethodNames } from "../merge/methods/registry.ts";
import { paperTableIds } from "../report/paper-data.ts";
import type { ModelRole } from "../report/types.ts";
import { servedFingerprint } from "../serve/generate.ts";
import { splitWords, unknownPlaceholders, type ServeSpec, type ServerProfile } from "../serve/profile.ts";
import { closestName } from "../util/suggest.ts";
import { readYamlConfig, type ConfigPath } from "../util/yaml-config.ts";
import { experimentSchema, type ExperimentFile, type JudgeEntry, type ModelEntry, type ServerProfileEntry } from "./schema.ts";
import { expandSweep } from "./sweep.ts";

export interface ExperimentModel {
  name: string;
  roles: ModelRole[];
  safetyMix?: number;
  paperRow?: string;
  /** A folder or `endpoint model`, for reports. */
  source: string;
  backend: BackendSpec | ServedBackend;
  /** Merges: the mergekit YAML to run (model references already resolved to folders) and where it goes. */
  merge?: {
    recipeText: string;
    method: string;
    outDir: string;
    point?: Record<string, number>;
    /** Merges repeated over seeds: this one's seed (else the experiment's) and the group it belongs to. */
    seed?: number;
    seedGroup?: string;
  };
}

/** A model generated on a server mergeval starts (a `servers:` profile), on a free port chosen each time. */
export interface ServedBackend {
  kind: "served";
  serve: ServeSpec;
  /** Its identity in cache keys, which the port is not part of. */
  fingerprint: string;
}

export interface Experiment {
  file: string;
  spec: ExperimentFile;
  runDir: string;
  languages: LanguageId[];
  /** Display order: base, baselines by safety mix, experts, merges in file order. */
  models: ExperimentModel[];
  base: string;
  reference?: string;
  /** The judges whose verdicts are the report's numbers (the first of each panel). */
  judges: { harm: Judge; preference: Judge };
  /** Every judge of each panel, the first being `judges`' one, with its entry (endpoint, concurrency). */
  panels: { harm: PanelMember[]; preference: PanelMember[] };
}

export interface PanelMember {
  judge: Judge;
  entry: JudgeEntry;
  /** How reports name it: the judge kind and, for LLM judges, its model (`llm-harm:gpt-4o`). */
  label: string;
  /** A judge mergeval serves: the server to start, and the judge asking it once it runs (its verdicts cached as `judge`'s). */
  served?: { serve: ServeSpec; connect: (baseUrl: string) => Judge };
}

export interface LoadOptions {
  /** The run folder (default runs/<name>). */
  runDir?: string;
  /**
   * Nothing will be sent (dry run, rebuilding a report): API keys named in the file need not be set. Requests made
   * anyway would carry no key.
   */
  noRequests?: boolean;
}

export async function loadExperiment(file: string, options: LoadOptions = {}): Promise<Experiment> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: cannot read experiment file (${err.code ?? err.message})`);
  });
  const { data: spec, lineOf } = readYamlConfig(experimentSchema, text, file);
  const runDir = options.runDir ?? join("runs", spec.name);
  const env = options.noRequests ? withPlaceholderKeys(text) : undefined;
  const at = (path: string) => `${file}: ${path}`;
  /** `file:line: path`, for checks made after the schema's. */
  const atLine = (path: ConfigPath) => `${file}${lineOf(path) ? `:${lineOf(path)}` : ""}: ${path.join(".")}`;
  const profiles = serverProfiles(spec.servers, atLine);
  const profileFor = (name: string, path: ConfigPath): ServerProfile => {
    const profile = profiles.get(name);
    if (profile) return profile;
    const near = closestName(name, profiles.keys());
    const known = profiles.size ? `the servers: section has ${[...profiles.keys()].join(", ")}` : "the file has no servers: section";
    return fail(atLine(path), `no server profile "${name}"${near ? ` (did you mean "${near}"?)` : ""}; ${known}`);
  };

  const languages = spec.languages.map((l, i) => toLanguageId(l) ?? fail(at(`languages.${i}`), `"${l}" is not a language mergeval knows`));
  const entries = Object.entries(spec.models);
  const withRole = (r: ModelRole) => entries.filter(([, m]) => m.role.includes(r as never)).map(([n]) => n);
  const bases = withRole("base");
  if (bases.length !== 1) fail(at("models"), `exactly one model needs role: base (found ${bases.length ? bases.join(", ") : "none"})`);
  const references = entries.filter(([, m]) => m.reference).map(([n]) => n);
  if (references.length > 1) fail(at("models"), `only one model can be the reference (found ${references.join(", ")})`);
  for (const n of references) if (!spec.models[n]!.role.includes("baseline")) fail(at(`models.${n}.reference`), "the reference must be a baseline (a data-mix model)");
  if (spec.paper !== undefined && !paperTableIds().includes(spec.paper)) fail(at("paper"), `unknown table "${spec.paper}"; one of ${paperTableIds().join(", ")}`);

  const models: ExperimentModel[] = entries.map(([name, m]) => ({
    name,
    roles: [...m.role],
    ...(m.safety_mix !== undefined ? { safetyMix: m.safety_mix } : {}),
    ...(m.paper_row ? { paperRow: m.paper_row } : {}),
    ...(("path" in m && typeof m.serve === "string")
      ? { source: m.path, backend: servedBackend({ id: name, profile: profileFor(m.serve, ["models", name, "serve"]), path: m.path, model: name }) }
      : modelSource(m, env)),
  }));
  const rank = (m: ExperimentModel) => (m.roles.includes("base") ? 0 : m.roles.includes("baseline") ? 1 : 2);
  models.sort((a, b) => rank(a) - rank(b) || (rank(a) === 1 ? (a.safetyMix ?? 0) - (b.safetyMix ?? 0) : 0));

  for (const [entryName, entry] of Object.entries(spec.merges)) {
    const where = at(`merges.${entryName}`);
    const recipe = await recipeObject(entry.recipe, where);
    for (const point of expandSweep(entryName, recipe, entry.sweep, where)) {
      // A random merge repeated over seeds: one merge per seed, grouped so the report can show their spread.
      for (const seed of entry.seeds ?? [undefined]) {
        const name = seed === undefined ? point.name : `${point.name}-s${seed}`;
        if (models.some((m) => m.name === name)) fail(where, `the merge name "${name}" is taken by another model or merge`);
        const resolved = resolveModelRefs(point.recipe, spec.models, where);
        const recipeText = `# ${name}: written by mergeval run from ${file} (seed ${seed ?? spec.seed})\n${stringifyYaml(resolved)}`;
        const label = `${where} (${name})`;
        const method = (await withoutCopyLines(label, async () => parseMergeConfig(recipeText, label))).merge_method;
        if (seed !== undefined && !randomMethodNames().includes(method)) {
          fail(`${where}.seeds`, `${method} draws nothing at random, so every seed gives the same merge (seeds are for ${randomMethodNames().join(", ")})`);
        }
        const outDir = join(runDir, "merges", name);
        models.push({
          name,
          roles: ["merge"],
          ...(entry.paper_row ? { paperRow: entry.paper_row } : {}),
          ...(typeof entry.serve === "string"
            ? { source: outDir, backend: servedBackend({ id: name, profile: profileFor(entry.serve, ["merges", entryName, "serve"]), path: outDir, model: name }, `seed ${seed ?? spec.seed}\n${stringifyYaml(resolved)}`) }
            : entry.serve ? modelSource(entry.serve, env) : { source: outDir, backend: { kind: "onnx", dir: outDir } }),
          merge: { recipeText, method, outDir, ...(point.point ? { point: point.point } : {}), ...(seed !== undefined ? { seed, seedGroup: point.name } : {}) },
        });
      }
    }
  }

  const judgeProfile = (kind: "harm" | "preference", i: number | undefined, name: string) => profileFor(name, ["judges", kind, ...(i === undefined ? [] : [i]), "serve"]);
  const panels = {
    harm: await panelFrom(spec.judges.harm, "harm", at("judges.harm"), env, (i, n) => judgeProfile("harm", Array.isArray(spec.judges.harm) && spec.judges.harm.length > 1 ? i : undefined, n)),
    preference: await panelFrom(spec.judges.preference, "preference", at("judges.preference"), env, (i, n) => judgeProfile("preference", spec.judges.preference.length > 1 ? i : undefined, n)),
  };
  return {
    file,
    spec,
    runDir,
    languages,
    models,
    base: bases[0]!,
    ...(references[0] ? { reference: references[0] } : {}),
    judges: { harm: panels.harm[0]!.judge, preference: panels.preference[0]!.judge },
    panels,
  };
}

async function panelFrom(
  entries: JudgeEntry[],
  kind: Judge["kind"],
  where: string,
  env: NodeJS.ProcessEnv | undefined,
  profileFor: (index: number, name: string) => ServerProfile,
): Promise<PanelMember[]> {
  const members: PanelMember[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = entries.length > 1 ? `${where}.${i}` : where;
    const served = entry.serve !== undefined ? servedJudge(entry, profileFor(i, entry.serve)) : undefined;
    const { judge, options } = await judgeFrom(served ? served.entry : entry, kind, at, env);
    const label = judge.model ? `${judge.name}:${judge.model}` : judge.name;
    if (members.some((m) => m.label === label)) fail(`${where}.${i}`, `${label} is already on the panel: a judge's verdicts agree with themselves`);
    if (!served) {
      members.push({ judge, entry, label });
      continue;
    }
    // Until its server runs the judge has a stand-in address, never asked: its verdicts are cached under the
    // folder it serves, not the port it happens to get.
    const shown = { ...judge, endpointHost: `a ${served.serve.profile.name} server mergeval starts` };
    const connect = (baseUrl: string): Judge => ({
      ...createJudge(entry.name, { ...options, endpoint: { ...options.endpoint!, baseUrls: [baseUrl] } }),
      config: shown.config,
      endpointHost: shown.endpointHost,
    });
    members.push({ judge: shown, entry, label, served: { serve: served.serve, connect } });
  }
  return members;
}

/** What a served judge is until its server runs: an endpoint entry with a stand-in URL naming its folder. */
function servedJudge(entry: JudgeEntry, profile: ServerProfile): { entry: JudgeEntry; serve: ServeSpec } {
  const model = entry.model ?? basename(entry.path!);
  const serve = { id: `judge-${model}`, profile, path: entry.path!, model };
  return { entry: { ...entry, endpoint: [`http://served.invalid/${encodeURIComponent(entry.path!)}/v1`], model }, serve };
}

/** Checks each `servers:` profile's templates: known placeholders only, {port} used, quotes closed. */
function serverProfiles(entries: Record<string, ServerProfileEntry>, atLine: (path: ConfigPath) => string): Map<string, ServerProfile> {
  const profiles = new Map<string, ServerProfile>();
  const known = "the placeholders are {path} {port} {model} {gpu}";
  for (const [name, p] of Object.entries(entries)) {
    const unknown = unknownPlaceholders(p.command);
    if (unknown.length) fail(atLine(["servers", name, "command"]), `unknown placeholder {${unknown[0]}}; ${known}`);
    try {
      splitWords(p.command);
    } catch (err) {
      fail(atLine(["servers", name, "command"]), `${(err as Error).message}`);
    }
    if (!p.command.includes("{port}")) fail(atLine(["servers", name, "command"]), "mergeval chooses a free port for each server: the command must pass {port} (e.g. --port {port})");
    for (const [variable, value] of Object.entries(p.env)) {
      const bad = unknownPlaceholders(value);
      if (bad.length) fail(atLine(["servers", name, "env", variable]), `unknown placeholder {${bad[0]}}; ${known}`);
    }
    profiles.set(name, {
      name, command: p.command, ready: p.ready, startupTimeoutS: p.startup_timeout_s, stopTimeoutS: p.stop_timeout_s,
      parallel: p.parallel, gpusPerServer: p.gpus_per_server, env: p.env,
    });
  }
  return profiles;
}

/** `recipe`: what a merge is made from (recipe and seed; not the experiment file's name, which its copy names too). */
function servedBackend(serve: ServeSpec, recipe?: string): ServedBackend {
  return { kind: "served", serve, fingerprint: servedFingerprint(serve.model, serve.path, recipe) };
}

/**
 * Recipes are checked as the YAML copy mergeval writes (models resolved, sweep values filled in), whose line
 * numbers point nowhere in the user's files: errors name the merge entry, without a line.
 */
export async function withoutCopyLines<T>(label: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof InputError) throw new InputError(stripCopyLine(label, err.message));
    throw err;
  }
}

export function stripCopyLine(label: string, message: string): string {
  return message.startsWith(`${label}:`) ? label + message.slice(label.length).replace(/^:\d+(?=:)/, "") : message;
}

function fail(where: string, message: string): never {
  throw new InputError(`${where}: ${message}`);
}

/** The environment with every variable the experiment names for a key set (to a placeholder where missing). */
function withPlaceholderKeys(text: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const [, name] of text.matchAll(/api_key_env:\s*["']?([\w.-]+)/g)) env[name!] ??= "(not needed: no requests are sent)";
  return env;
}

type EndpointEntry = { endpoint: string[]; model: string; api_key_env?: string | undefined };

/** A folder run locally or an endpoint (a model served by a `servers:` profile is made in loadExperiment). */
function modelSource(m: ModelEntry | EndpointEntry, env: NodeJS.ProcessEnv | undefined): Pick<ExperimentModel, "source" | "backend"> {
  if ("path" in m) return m.serve && typeof m.serve !== "string" ? { ...modelSource(m.serve, env), source: m.path } : { source: m.path, backend: { kind: "onnx", dir: resolve(m.path) } };
  return {
    source: `${m.endpoint.join(" ")} ${m.model}`,
    backend: { kind: "openai", baseUrls: m.endpoint, model: m.model, ...(m.api_key_env ? { apiKeyEnv: m.api_key_env } : {}), ...(env ? { env } : {}) },
  };
}

async function recipeObject(recipe: string | Record<string, unknown>, where: string): Promise<Record<string, unknown>> {
  if (typeof recipe !== "string") return recipe;
  const text = await readFile(recipe, "utf8").catch(() => fail(`${where}.recipe`, `cannot read ${recipe}`));
  parseMergeConfig(text, recipe); // its own errors, with its own line numbers
  return parseYaml(text) as Record<string, unknown>;
}

/** `model:` / `base_model:` values naming a model of the experiment become its folder. */
function resolveModelRefs(value: unknown, models: Record<string, ModelEntry>, where: string, key?: string): unknown {
  if (typeof value === "string" && (key === "model" || key === "base_model")) {
    const m = models[value];
    if (!m) return value;
    if (!("path" in m)) fail(where, `"${value}" is served by an endpoint: a merge needs its weights in a local folder`);
    return m.path;
  }
  if (Array.isArray(value)) return value.map((v) => resolveModelRefs(v, models, where));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveModelRefs(v, models, where, k)]));
  return value;
}

/** The judge, and the options it was made with (a served judge is made again with its server's address). */
async function judgeFrom(entry: JudgeEntry, kind: Judge["kind"], where: string, env: NodeJS.ProcessEnv | undefined): Promise<{ judge: Judge; options: JudgeOptions }> {
  if (!judgeNames().includes(entry.name)) fail(`${where}.name`, `"${entry.name}" is not a judge; one of ${judgeNames().join(", ")}`);
  const template = entry.template ? await readFile(entry.template, "utf8").catch(() => fail(`${where}.template`, `cannot read ${entry.template}`)) : undefined;
  const options: JudgeOptions = {
    ...(entry.endpoint ? { endpoint: { baseUrls: entry.endpoint, model: entry.model!, ...(entry.api_key_env ? { apiKeyEnv: entry.api_key_env } : {}), ...(env ? { env } : {}) } } : {}),
    ...(template ? { template } : {}),
    ...(entry.single_order ? { singleOrderSeed: 0 } : {}),
  };
  let judge: Judge;
  try {
    judge = createJudge(entry.name, options);
  } catch (err) {
    fail(where, (err as Error).message.replace("--endpoint URL --model NAME", "endpoint and model"));
  }
  if (judge.kind !== kind) fail(`${where}.name`, `${entry.name} is a ${judge.kind} judge, not a ${kind} judge`);
  return { judge, options };
}
