import { readFile } from "node:fs/promises";
import { z } from "zod";
import { InputError } from "../errors.ts";
import { readYamlConfig } from "../util/yaml-config.ts";
import { parseChatTemplateSetting } from "./chat-templates.ts";
import { getMethod } from "./methods/registry.ts";
import { checkParameterNames } from "./recipe-parameters.ts";

/** The mergekit YAML schema, read as-is (the subset mergeval runs; other keys fail with a clear message). */

const scalar = z.union([z.number(), z.boolean(), z.string()]);
const gradient = z.array(z.number()).min(1);
const filteredEntry = z.object({ filter: z.string().optional(), value: z.union([scalar, gradient]) }).strict();
const parameterValue = z.union([scalar, gradient, z.array(filteredEntry).min(1), z.array(z.union([z.boolean(), z.string()])).min(1)]);
const parameters = z.record(z.string(), parameterValue);

const layerRange = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).refine(([a, b]) => a <= b, {
  message: "layer_range must be [start, end) with start ≤ end",
});

const modelEntry = z.object({ model: z.string().min(1), parameters: parameters.optional() }).strict();
const source = z.object({ model: z.string().min(1), layer_range: layerRange.optional(), parameters: parameters.optional() }).strict();
const slice = z
  .object({ sources: z.array(source).min(1), parameters: parameters.optional(), base_model: z.string().optional() })
  .strict();

export const mergeConfigSchema = z
  .object({
    merge_method: z.string().min(1),
    base_model: z.string().min(1).optional(),
    models: z.array(modelEntry).min(1).optional(),
    slices: z.array(slice).min(1).optional(),
    parameters: parameters.optional(),
    dtype: z.string().optional(),
    out_dtype: z.string().optional(),
    tokenizer_source: z.string().optional(),
    tokenizer: z.unknown().optional(),
    chat_template: z.string().optional(),
    modules: z.unknown().optional(),
    name: z.string().optional(),
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
  if (config.tokenizer !== undefined) throw unsupported("`tokenizer` (vocabulary union/permutation) is not supported yet; use tokenizer_source: base");
  if (config.tokenizer_source !== undefined && config.tokenizer_source !== "base") {
    throw unsupported(`tokenizer_source: ${config.tokenizer_source} is not supported yet; only "base" is`);
  }
  if (config.chat_template !== undefined) {
    const line = lineOf(["chat_template"]);
    parseChatTemplateSetting(config.chat_template, `${file}${line ? `:${line}` : ""}`);
  }
  const methodLine = lineOf(["merge_method"]);
  const method = getMethod(config.merge_method, `${file}${methodLine ? `:${methodLine}` : ""}`);
  checkParameterNames(config, method, lineOf, file);
  return config;
}
