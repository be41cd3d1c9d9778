import { readFile } from "node:fs/promises";
import { z } from "zod";
import { InputError } from "../errors.ts";
import { didYouMean } from "../util/suggest.ts";
import { readYamlConfig, type ConfigPath } from "../util/yaml-config.ts";
import { parseChatTemplateSetting } from "./chat-templates.ts";
import { getMethod } from "./methods/registry.ts";
import { formatModelPath } from "./model-ref.ts";
import { checkParameterNames } from "./recipe-parameters.ts";
import { tokenizerSettings } from "./tokenizer/settings.ts";

/**
 * The mergekit YAML schema (mergekit/config.py, MergeConfiguration), read as-is: the subset mergeval runs;
 * other keys fail with a clear message.
 */

const scalar = z.union([z.number(), z.boolean(), z.string()]);
const gradient = z.array(z.number()).min(1);
const filteredEntry = z.object({ filter: z.string().optional(), value: z.union([scalar, gradient]) }).strict();
const parameterValue = z.union([scalar, gradient, z.array(filteredEntry).min(1), z.array(z.union([z.boolean(), z.string()])).min(1)]);
const parameters = z.record(z.string(), parameterValue);

const layerRange = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).refine(([a, b]) => a <= b, {
  message: "layer_range must be [start, end) with start ≤ end",
});

/**
 * A model reference: the string form `model[@rev][+adapter[@rev]]`, or the mapping mergekit writes when a path
 * holds spaces or quotes, `{model: {path, revision}, lora: {path, revision}}` (ModelReference's serialised
 * form). Either way the recipe carries the string form from here on.
 */
const modelPath = z.union([z.string().min(1), z.object({ path: z.string().min(1), revision: z.string().min(1).nullish() }).strict()]);
const modelRefMapping = z.object({ model: modelPath, lora: modelPath.nullish(), override_architecture: z.string().nullish() }).strict();
const MAPPING_KEYS = { top: ["model", "lora", "override_architecture"], path: ["path", "revision"] };

/** The string form of a mapping reference; problems are issues at their keys. */
function mappingToString(value: Record<string, unknown>, ctx: z.RefinementCtx): string | undefined {
  const parsed = modelRefMapping.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      if (issue.code === "unrecognized_keys") {
        const candidates = path.length === 0 ? MAPPING_KEYS.top : MAPPING_KEYS.path;
        for (const key of issue.keys) ctx.addIssue({ code: "custom", path: [...path, key], message: `unknown key${didYouMean(key, candidates)}` });
      } else ctx.addIssue({ code: "custom", path, message: issue.message });
    }
    return undefined;
  }
  const ref = parsed.data;
  if (ref.override_architecture) {
    ctx.addIssue({ code: "custom", path: ["override_architecture"], message: "mergeval reads the architecture from the tensor names and cannot override it; remove override_architecture" });
    return undefined;
  }
  const text = (p: z.infer<typeof modelPath>, key: string): string | undefined => {
    if (typeof p === "string") return p;
    if (/[+@]/.test(p.path)) {
      ctx.addIssue({ code: "custom", path: [key, "path"], message: `"${p.path}" holds "+" or "@", which a model reference cannot carry` });
      return undefined;
    }
    return formatModelPath(p.revision ? { path: p.path, revision: p.revision } : { path: p.path });
  };
  const model = text(ref.model, "model");
  const lora = ref.lora ? text(ref.lora, "lora") : undefined;
  if (model === undefined || (ref.lora && lora === undefined)) return undefined;
  return lora ? `${model}+${lora}` : model;
}

const modelRef = z.preprocess((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return mappingToString(value as Record<string, unknown>, ctx) ?? value;
}, z.string().min(1));

const modelEntry = z.object({ model: modelRef, parameters: parameters.optional() }).strict();

/**
 * The `tokenizer:` block (mergekit/tokenizer/config.py, TokenizerConfig): the output vocabulary's `source`
 * (default union), per-token embedding `tokens` (`source`: a model, `{kind: model_token, model, token |
 * token_id}` or `{kind: zero}`; `force`), and `pad_to_multiple_of`. Checked further by tokenizerSettings.
 */
const tokenEmbeddingSource = z.union([
  z.object({ kind: z.literal("model_token"), model: modelRef, token_id: z.number().int().nonnegative().nullish(), token: z.string().nullish() }).strict(),
  z.object({ kind: z.literal("zero") }).strict(),
  modelRef,
]);
const tokenizerBlock = z
  .object({
    source: modelRef.optional(),
    tokens: z.record(z.string().min(1), z.object({ source: tokenEmbeddingSource.nullish(), force: z.boolean().optional() }).strict()).nullish(),
    pad_to_multiple_of: z.number().int().nonnegative().nullish(),
  })
  .strict();

const source = z.object({ model: modelRef, layer_range: layerRange.optional(), parameters: parameters.optional() }).strict();
const slice = z
  .object({
    sources: z.array(source).min(1),
    parameters: parameters.optional(),
    base_model: modelRef.optional(),
    /** Declared by mergekit's OutputSliceDefinition since its first version and read by none: no effect. */
    residual_weight: z.number().nullish(),
  })
  .strict();

export const mergeConfigSchema = z
  .object({
    merge_method: z.string().min(1),
    base_model: modelRef.optional(),
    models: z.array(modelEntry).min(1).optional(),
    slices: z.array(slice).min(1).optional(),
    parameters: parameters.optional(),
    dtype: z.string().optional(),
    out_dtype: z.string().optional(),
    tokenizer_source: modelRef.optional(),
    tokenizer: tokenizerBlock.optional(),
    chat_template: z.string().optional(),
    modules: z.unknown().optional(),
    name: z.string().optional(),
    // Keys of older mergekit versions that current mergekit still takes without an error (it ignores them):
    // accepted, and warned about (legacyKeyWarnings).
    input_model_parameters: z.unknown().optional(),
    residual_weight: z.unknown().optional(),
  })
  .strict();

export type MergeConfig = z.infer<typeof mergeConfigSchema>;
export type ParameterValue = z.infer<typeof parameterValue>;
export type Parameters = z.infer<typeof parameters>;

export interface LoadedConfig {
  file: string;
  text: string;
  config: MergeConfig;
}

export async function loadMergeConfig(file: string): Promise<LoadedConfig> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: cannot read merge config (${err.code ?? err.message})`);
  });
  return { file, text, config: parseMergeConfig(text, file) };
}

const ONE_RECIPE_PER_FILE =
  "mergeval reads one recipe per file (mergekit-multi's multi-stage form is not supported): split it into one file per merge";

/**
 * Parses and validates a mergekit YAML; errors name the file, the line and the key. A parameter name no merge
 * method reads is an error here; parameters this method ignores are warnings of the plan (buildMergePlan).
 */
export function parseMergeConfig(text: string, file: string): MergeConfig {
  const { data: config, lineOf } = readYamlConfig(mergeConfigSchema, text, file, { multiDocumentAdvice: ONE_RECIPE_PER_FILE });
  const unsupported = (what: string) => new InputError(`${file}: ${what}`);
  if (Boolean(config.models) === Boolean(config.slices)) throw unsupported("give exactly one of `models` or `slices`");
  if (config.modules !== undefined) throw unsupported("`modules` (multi-module VLM merges) is not supported yet");
  tokenizerSettings(config, lineOf, file);
  if (config.chat_template !== undefined) {
    const line = lineOf(["chat_template"]);
    parseChatTemplateSetting(config.chat_template, `${file}${line ? `:${line}` : ""}`);
  }
  const methodLine = lineOf(["merge_method"]);
  const method = getMethod(config.merge_method, `${file}${methodLine ? `:${methodLine}` : ""}`);
  checkParameterNames(config, method, lineOf, file);
  return config;
}

/**
 * Keys mergekit accepts and then ignores, each a warning at its line (errors with --strict):
 *   - `input_model_parameters` (per-model parameters keyed by model) was dropped from MergeConfiguration in
 *     mergekit v0.0.4 (PR #127, Jan 2024); its README still lists it, but pydantic now ignores the key, so its
 *     values are never applied;
 *   - `residual_weight` is declared on mergekit's slices (OutputSliceDefinition) but no mergekit version has
 *     ever read it; at the top level it is ignored like any unknown key.
 */
export function legacyKeyWarnings(config: MergeConfig, lineOf: (path: ConfigPath) => number | undefined, file: string): string[] {
  const at = (path: ConfigPath) => {
    const line = lineOf(path);
    return `${file}${line ? `:${line}` : ""}: ${path.join(".")}`;
  };
  const warnings: string[] = [];
  if (config.input_model_parameters !== undefined) {
    warnings.push(
      `${at(["input_model_parameters"])}: ignored, as mergekit does since v0.0.4 (PR #127 removed it; its README still lists it), so these ` +
        "values are not applied: move them to models[].parameters or slices[].sources[].parameters",
    );
  }
  const residual = (path: ConfigPath) =>
    `${at(path)}: ignored — mergekit declares residual_weight on slices but no mergekit version has ever read it, so it changes nothing`;
  if (config.residual_weight !== undefined) warnings.push(residual(["residual_weight"]));
  config.slices?.forEach((slice, i) => {
    if (slice.residual_weight !== undefined && slice.residual_weight !== null) warnings.push(residual(["slices", i, "residual_weight"]));
  });
  return warnings;
}
