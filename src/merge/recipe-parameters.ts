import { InputError } from "../errors.ts";
import { closestName, didYouMean } from "../util/suggest.ts";
import type { ConfigPath } from "../util/yaml-config.ts";
import type { MergeConfig, Parameters } from "./config.ts";
import { knownParameterNames } from "./methods/registry.ts";
import type { MergeMethod } from "./methods/types.ts";
import { isFilteredEntry } from "./params.ts";

/**
 * The parameters a recipe sets, checked against what its method reads. mergekit ignores whatever a method does
 * not read, so a typo (`densty`) silently merges with the default; here a name no method knows is an error, and
 * a name this method ignores, or a filter that selects nothing, is a warning.
 */

interface ParameterSite {
  /** Where the `parameters` map is in the recipe. */
  path: (string | number)[];
  /** "source": models[].parameters or slices[].sources[].parameters, per model; filters test input names. */
  level: "source" | "slice" | "global";
  params: Parameters;
  /** The model a source-level map belongs to. */
  model?: string;
}

type LineOf = (path: ConfigPath) => number | undefined;

function parameterSites(config: MergeConfig): ParameterSite[] {
  const sites: ParameterSite[] = [];
  if (config.parameters) sites.push({ path: ["parameters"], level: "global", params: config.parameters });
  config.models?.forEach((m, i) => {
    if (m.parameters) sites.push({ path: ["models", i, "parameters"], level: "source", params: m.parameters, model: m.model });
  });
  config.slices?.forEach((slice, i) => {
    if (slice.parameters) sites.push({ path: ["slices", i, "parameters"], level: "slice", params: slice.parameters });
    slice.sources.forEach((source, j) => {
      if (source.parameters) sites.push({ path: ["slices", i, "sources", j, "parameters"], level: "source", params: source.parameters, model: source.model });
    });
  });
  return sites;
}

function where(file: string, lineOf: LineOf, path: ConfigPath): string {
  const line = lineOf(path);
  return `${file}${line ? `:${line}` : ""}: ${path.join(".")}`;
}

function takes(method: MergeMethod): string {
  const names = Object.keys(method.params);
  return names.length ? `${method.name} takes: ${names.join(", ")}` : `${method.name} takes no parameters`;
}

/** Throws one InputError listing every parameter name that no merge method reads. */
export function checkParameterNames(config: MergeConfig, method: MergeMethod, lineOf: LineOf, file: string): void {
  const known = knownParameterNames();
  const unknown = parameterSites(config).flatMap((site) =>
    Object.keys(site.params)
      .filter((key) => !known.has(key))
      .map((key) => {
        const hint = didYouMean(key, Object.keys(method.params)) || didYouMean(key, known);
        return { line: lineOf([...site.path, key]) ?? 0, text: `${where(file, lineOf, [...site.path, key])}: unknown parameter${hint} (${takes(method)})` };
      }),
  );
  if (unknown.length) throw new InputError(unknown.sort((a, b) => a.line - b.line).map((u) => u.text).join("\n"));
}

export interface TensorNames {
  /** Output tensor names: what slice-level and top-level filters test. */
  outputs: readonly string[];
  /** A model's own tensor names: what its models[]/sources[] filters test. */
  inputsOf: (model: string) => readonly string[];
}

/**
 * Parameters the merge will ignore, in line order: known names this method never reads, global parameters set
 * per model, and filters (of parameters the method reads) that match no tensor name.
 */
export function recipeWarnings(config: MergeConfig, method: MergeMethod, lineOf: LineOf, file: string, names: TensorNames): string[] {
  const warnings: { line: number; text: string }[] = [];
  const warn = (path: ConfigPath, text: string) => warnings.push({ line: lineOf(path) ?? 0, text: `${where(file, lineOf, path)}: ${text}` });
  for (const site of parameterSites(config)) {
    const tested = site.level === "source" ? names.inputsOf(site.model!) : names.outputs;
    for (const [key, value] of Object.entries(site.params)) {
      const path = [...site.path, key];
      const spec = method.params[key];
      if (!spec) {
        warn(path, `${method.name} does not use ${key}, so it is ignored (${takes(method)})`);
        continue;
      }
      if (spec.scope === "global" && site.level === "source") {
        warn(path, `${key} is one value for all models in ${method.name}, so a per-model value is ignored (set it under the top-level or a slice's parameters)`);
        continue;
      }
      unmatchedFilters(value, tested).forEach(({ index, filter, hint }) =>
        warn([...path, index, "filter"], `filter "${filter}" matches no tensor name${hint ? ` (did you mean "${hint}"?)` : ""}, so its value is never used`),
      );
    }
  }
  return warnings.sort((a, b) => a.line - b.line).map((w) => w.text);
}

/** Entries of a `[{filter, value}, …]` list whose filter is a substring of none of the names it is tested on. */
function unmatchedFilters(value: unknown, tested: readonly string[]): { index: number; filter: string; hint?: string }[] {
  if (!Array.isArray(value)) return [];
  return (value as readonly unknown[]).flatMap((entry, index) => {
    if (!isFilteredEntry(entry) || entry.filter === undefined || entry.filter === "*") return [];
    const filter = entry.filter;
    if (tested.some((name) => name.includes(filter))) return [];
    const hint = filter.includes(".") ? undefined : closestName(filter, nameParts(tested));
    return [{ index, filter, ...(hint ? { hint } : {}) }];
  });
}

/** The dot-separated parts of tensor names ("self_attn", "q_proj"…), for suggesting a filter. */
function nameParts(names: readonly string[]): Set<string> {
  return new Set(names.flatMap((n) => n.split(".")).filter((part) => !/^\d+$/.test(part)));
}
