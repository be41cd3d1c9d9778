import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { yamlKeyLines, type ConfigPath } from "../util/yaml-config.ts";
import { isEmbedding, isPreWeight, layerCountFromConfig, layerTensorName, LAYOUT, parseLayerName, type LayerName } from "./architecture.ts";
import { parseChatTemplateSetting, resolveChatTemplate, templateParseProblem, type ResolvedChatTemplate } from "./chat-templates.ts";
import { legacyKeyWarnings, type LoadedConfig, type Parameters } from "./config.ts";
import { attachLoraAdapter, describeAdapter, readLoraAdapter, type LoraAdapter } from "./lora.ts";
import { getMethod } from "./methods/registry.ts";
import type { MergeMethod, ParamSpec, ParamValue } from "./methods/types.ts";
import { resolveModelSource } from "./model-ref.ts";
import { layerPosition, resolveParameter } from "./params.ts";
import { recipeWarnings } from "./recipe-parameters.ts";
import { Checkpoint } from "./safetensors/checkpoint.ts";
import { isFloatDtype, parseConfigDtype, type FloatDtype } from "./safetensors/dtype.ts";
import type { TensorEntry } from "./safetensors/header.ts";
import { planTokenizer, type TokenizerPlan } from "./tokenizer/build.ts";
import { remapEmbeddings, type EmbeddingInput } from "./tokenizer/embed.ts";
import { tokenizerSettings } from "./tokenizer/settings.ts";

/**
 * Turns a merge config into a list of per-tensor tasks before any tensor data is read, so every input error
 * (missing tensor, shape mismatch, bad parameter, wrong number of models) surfaces in seconds.
 */

export interface ModelInput {
  ref: string;
  /** The model's folder (for `model+adapter`, the model's: its config.json and tokenizer are the output's). */
  dir: string;
  /** The LoRA adapter of a `model+adapter` reference, added to its tensors as they are read. */
  adapter?: LoraAdapter;
  checkpoint: Checkpoint;
  config: Record<string, unknown> | undefined;
  layers: number;
}

export interface PlannedInput {
  model: ModelInput;
  entry: TensorEntry;
  /** Set when this input is cut to a smaller top-left sub-matrix (embeddings of different vocabularies). */
  crop?: number[];
  perModel: Record<string, ParamValue>;
}

export interface TensorTask {
  name: string;
  shape: number[];
  dtype: FloatDtype;
  base: PlannedInput | undefined;
  models: PlannedInput[];
  global: Record<string, ParamValue>;
}

export interface MergePlan {
  method: MergeMethod;
  tasks: TensorTask[];
  /** The model whose config.json and tokenizer the output takes: the base, else the first model named. */
  donor: ModelInput;
  baseRef: string | undefined;
  models: ModelInput[];
  /** Cast inputs to this dtype at load (config `dtype`). */
  loadDtype: FloatDtype | undefined;
  /** config.json torch_dtype of the output: out_dtype, else dtype, else unchanged. */
  configDtype: FloatDtype | undefined;
  /** Output layer count, written to config.json under `key`. */
  layerCount: { key: string; value: number } | undefined;
  /** The recipe's chat_template, resolved: written to tokenizer_config.json and chat_template.jinja. */
  chatTemplate?: ResolvedChatTemplate;
  /** `tokenizer_source` / `tokenizer:`: the output vocabulary; embeddings are re-mapped to it as they are read. */
  tokenizer?: TokenizerPlan;
  warnings: string[];
  /** What the dry run should show beyond parameters: LoRA adapters applied, the chat template written. */
  notes: string[];
}

interface NormalizedSource {
  ref: string;
  range: [number, number];
  params: Parameters | undefined;
}

interface NormalizedSlice {
  sources: NormalizedSource[];
  params: Parameters | undefined;
  baseRef: string | undefined;
}

interface OutputTensor {
  name: string;
  slice: NormalizedSlice;
  t: number;
  inputName: (source: NormalizedSource) => string;
}

export async function buildMergePlan(loaded: LoadedConfig, cwd: string): Promise<MergePlan> {
  const { config, file } = loaded;
  const method = getMethod(config.merge_method, file);
  const dtypeOf = (key: "dtype" | "out_dtype") => {
    const name = config[key];
    if (name === undefined) return undefined;
    const dtype = parseConfigDtype(name);
    if (!dtype) throw new InputError(`${file}: ${key}: "${name}" is not one of float32, float16, bfloat16`);
    return dtype;
  };
  const loadDtype = dtypeOf("dtype");
  const outDtype = dtypeOf("out_dtype");

  const models = await openModels(allRefs(loaded), cwd);
  const model = (ref: string) => models.get(ref)!;
  const slices = normalizeSlices(loaded, model);
  const baseRef = config.base_model;
  if (method.base === "required" && slices.some((s) => !s.baseRef)) {
    throw new InputError(`${file}: merge_method ${method.name} needs a base_model`);
  }
  const donor = model(baseRef ?? slices[0]!.sources[0]!.ref);
  const lineOf = yamlKeyLines(loaded.text);
  const tokenizer = planVocabulary(loaded, lineOf, [...models.values()], donor, cwd);
  const tensorWarnings: string[] = [];
  const remap = tokenizer && embeddingRemapper(tokenizer, loadDtype, file, tensorWarnings);
  const tasks: TensorTask[] = [];
  for (const output of outputTensors(slices, donor, [...models.values()])) {
    const task = planTensor(output, method, loaded, model, outDtype ?? loadDtype, tensorWarnings, remap);
    if (task) tasks.push(task);
  }
  if (tasks.length === 0) throw new InputError(`${file}: the merge produces no tensors`);
  const names = { outputs: tasks.map((t) => t.name), inputsOf: (ref: string) => [...model(ref).checkpoint.tensors.keys()] };
  const chat = await planChatTemplate(loaded, lineOf, [...models.values()], donor);
  const warnings = [
    ...legacyKeyWarnings(config, lineOf, file),
    ...recipeWarnings(config, method, lineOf, file, names),
    ...chat.warnings,
    ...(tokenizer?.warnings ?? []),
    ...tensorWarnings,
  ];
  const notes = [...[...models.values()].flatMap((m) => (m.adapter ? [describeAdapter(m.adapter, m.ref, m.dir)] : [])), ...chat.notes, ...(tokenizer?.notes ?? [])];
  const donorLayers = donor.config ? layerCountFromConfig(donor.config) : undefined;
  const totalLayers = slices.reduce((n, s) => n + s.sources[0]!.range[1] - s.sources[0]!.range[0], 0);
  return {
    method,
    tasks,
    donor,
    baseRef,
    models: [...models.values()],
    loadDtype,
    configDtype: outDtype ?? loadDtype,
    layerCount: donorLayers ? { key: donorLayers.key, value: totalLayers } : undefined,
    ...(chat.resolved ? { chatTemplate: chat.resolved } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    warnings,
    notes,
  };
}

/**
 * mergekit sets a recipe's chat template on the donor's tokenizer and saves it (merge.py, _set_chat_template).
 * `auto` counts the templates of every referenced model (a `model+adapter` reference counts its model's).
 * Without a tokenizer in the donor, mergekit saves no template ("Chat template specified but no tokenizer
 * found"): the same here, as a warning.
 */
async function planChatTemplate(
  { config, file }: LoadedConfig,
  lineOf: (path: (string | number)[]) => number | undefined,
  models: ModelInput[],
  donor: ModelInput,
): Promise<{ resolved?: ResolvedChatTemplate; warnings: string[]; notes: string[] }> {
  if (config.chat_template === undefined) return { warnings: [], notes: [] };
  const line = lineOf(["chat_template"]);
  const where = `${file}${line ? `:${line}` : ""}: chat_template`;
  const setting = parseChatTemplateSetting(config.chat_template, where);
  const result = await resolveChatTemplate(setting, models);
  if ("none" in result) return { warnings: [`${file}: ${result.none}`], notes: [] };
  const { resolved } = result;
  if (!existsSync(join(donor.dir, "tokenizer_config.json"))) {
    return { warnings: [`${where}: the donor "${donor.ref}" (${donor.dir}) has no tokenizer_config.json, so no template is written (as mergekit: "no tokenizer found")`], notes: [] };
  }
  const problem = templateParseProblem(resolved.template);
  const warnings = problem ? [`${where}: the template does not parse in @huggingface/jinja, which mergeval's generate stage renders with (${problem}); written anyway, as mergekit would`] : [];
  return { resolved, warnings, notes: [`chat_template: ${resolved.origin}, written to tokenizer_config.json and chat_template.jinja (the donor's own template files are not copied)`] };
}

/**
 * `tokenizer_source` / `tokenizer:` (mergekit's BuildTokenizer): the output vocabulary, built from the models'
 * tokenizer.json before any tensor is planned. The tokenizer base is the base model, else the first named.
 */
function planVocabulary(
  { config, file }: LoadedConfig,
  lineOf: (path: ConfigPath) => number | undefined,
  models: ModelInput[],
  donor: ModelInput,
  cwd: string,
): TokenizerPlan | undefined {
  const settings = tokenizerSettings(config, lineOf, file);
  return settings && planTokenizer(settings, models, donor, cwd);
}

/** Re-maps a tensor's embedding inputs (embed_tokens, lm_head) to the output vocabulary (tokenizer/embed.ts). */
type EmbeddingRemapper = (tensor: string, inputs: EmbeddingInput[], baseRef: string | undefined) => Map<string, TensorEntry>;

function embeddingRemapper(tokenizer: TokenizerPlan, loadDtype: FloatDtype | undefined, file: string, warnings: string[]): EmbeddingRemapper {
  const warned = new Set<string>();
  const warn = (token: string) => {
    if (warned.has(token)) return;
    warned.add(token);
    warnings.push(`${tokenizer.settings.where}: token ${JSON.stringify(token)} not found in any model: its embedding rows are zeros (as mergekit)`);
  };
  return (tensor, inputs, baseRef) => remapEmbeddings(tokenizer, tensor, inputs, baseRef, loadDtype, `${file}: ${tensor}`, warn);
}

function allRefs({ config }: LoadedConfig): string[] {
  const refs = [
    ...(config.base_model ? [config.base_model] : []),
    ...(config.models ?? []).map((m) => m.model),
    ...(config.slices ?? []).flatMap((s) => [...s.sources.map((x) => x.model), ...(s.base_model ? [s.base_model] : [])]),
  ];
  return [...new Set(refs)];
}

async function openModels(refs: string[], cwd: string): Promise<Map<string, ModelInput>> {
  const models = new Map<string, ModelInput>();
  for (const ref of refs) {
    const source = resolveModelSource(ref, cwd);
    const dir = source.dir;
    let checkpoint = await Checkpoint.open(dir);
    let adapter: LoraAdapter | undefined;
    if (source.adapter) {
      adapter = await readLoraAdapter(source.adapter.dir, source.adapter.ref);
      checkpoint = attachLoraAdapter(checkpoint, adapter, ref);
    }
    const configPath = join(dir, "config.json");
    let config: Record<string, unknown> | undefined;
    if (existsSync(configPath)) {
      try {
        config = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
      } catch (err) {
        throw new InputError(`${configPath}: not valid JSON (${(err as Error).message})`);
      }
    }
    const fromConfig = config ? layerCountFromConfig(config)?.value : undefined;
    const layers = fromConfig ?? inferLayerCount(checkpoint);
    models.set(ref, { ref, dir, checkpoint, config, layers, ...(adapter ? { adapter } : {}) });
  }
  return models;
}

function inferLayerCount(checkpoint: Checkpoint): number {
  let max = -1;
  for (const name of checkpoint.tensors.keys()) max = Math.max(max, parseLayerName(name)?.index ?? -1);
  return max + 1;
}

function normalizeSlices({ config, file }: LoadedConfig, model: (ref: string) => ModelInput): NormalizedSlice[] {
  const withBase = (sources: NormalizedSource[], baseRef: string | undefined): NormalizedSource[] =>
    baseRef && !sources.some((s) => s.ref === baseRef) ? [...sources, { ref: baseRef, range: sources[0]!.range, params: undefined }] : sources;
  let slices: NormalizedSlice[];
  if (config.models) {
    const layers = model(config.base_model ?? config.models[0]!.model).layers;
    const sources = config.models.map((m) => ({ ref: m.model, range: [0, layers] as [number, number], params: m.parameters }));
    slices = [{ sources: withBase(sources, config.base_model), params: undefined, baseRef: config.base_model }];
  } else {
    slices = config.slices!.map((s) => {
      const baseRef = s.base_model ?? config.base_model;
      const sources = s.sources.map((src) => ({
        ref: src.model,
        range: (src.layer_range ?? [0, model(src.model).layers]) as [number, number],
        params: src.parameters,
      }));
      return { sources: withBase(sources, baseRef), params: s.parameters, baseRef };
    });
  }
  slices.forEach((slice, i) => {
    const length = slice.sources[0]!.range[1] - slice.sources[0]!.range[0];
    for (const src of slice.sources) {
      const [start, end] = src.range;
      if (end - start !== length) {
        throw new InputError(`${file}: slice ${i + 1}: sources span different numbers of layers (${length} and ${end - start} for "${src.ref}")`);
      }
      if (end > model(src.ref).layers) {
        throw new InputError(`${file}: slice ${i + 1}: layer_range [${start}, ${end}) is past the ${model(src.ref).layers} layers of "${src.ref}"`);
      }
    }
  });
  return slices;
}

/**
 * Output tensors in checkpoint order: pre-weights (first slice), layers renumbered across slices, post-weights
 * (last slice). Names come from every input, the donor's first, so a tensor the donor lacks is reported as
 * missing rather than silently left out.
 */
function outputTensors(slices: NormalizedSlice[], donor: ModelInput, models: ModelInput[]): OutputTensor[] {
  const byLayer = new Map<number, LayerName[]>();
  const pre: string[] = [];
  const post: string[] = [];
  const seen = new Set<string>();
  for (const model of [donor, ...models.filter((m) => m !== donor)]) {
    for (const entry of [...model.checkpoint.tensors.values()].sort(fileOrder)) {
      if (seen.has(entry.name)) continue;
      seen.add(entry.name);
      const layer = parseLayerName(entry.name);
      if (layer) byLayer.set(layer.index, [...(byLayer.get(layer.index) ?? []), layer]);
      else (isPreWeight(entry.name) ? pre : post).push(entry.name);
    }
  }
  const same = (name: string) => () => name;
  const first = slices[0]!;
  const last = slices[slices.length - 1]!;
  const outputs: OutputTensor[] = pre.map((name) => ({ name, slice: first, t: 0, inputName: same(name) }));
  let offset = 0;
  for (const slice of slices) {
    const reference = slice.sources.find((s) => s.ref === slice.baseRef) ?? slice.sources[0]!;
    const length = reference.range[1] - reference.range[0];
    for (let k = 0; k < length; k++) {
      const templates = byLayer.get(reference.range[0] + k) ?? byLayer.values().next().value ?? [];
      for (const layer of templates) {
        outputs.push({
          name: layerTensorName(layer, offset + k),
          slice,
          t: layerPosition(k, length),
          inputName: (source) => layerTensorName(layer, source.range[0] + k),
        });
      }
    }
    offset += length;
  }
  outputs.push(...post.map((name) => ({ name, slice: last, t: 0, inputName: same(name) })));
  return outputs;
}

function fileOrder(a: TensorEntry, b: TensorEntry): number {
  return a.file === b.file ? a.offset - b.offset : a.file < b.file ? -1 : 1;
}

function planTensor(
  output: OutputTensor,
  method: MergeMethod,
  { file, config }: LoadedConfig,
  model: (ref: string) => ModelInput,
  dtypeOverride: FloatDtype | undefined,
  warnings: string[],
  remap?: EmbeddingRemapper,
): TensorTask | undefined {
  const { name, slice, t } = output;
  const tied = LAYOUT.tiedTo[name];
  if (tied && !slice.sources.some((s) => model(s.ref).checkpoint.get(output.inputName(s)))) return undefined; // no input has its own head
  const stored = (source: NormalizedSource): TensorEntry | undefined => {
    const checkpoint = model(source.ref).checkpoint;
    return checkpoint.get(output.inputName(source)) ?? tied?.map((n) => checkpoint.get(n)).find((e) => e !== undefined);
  };
  // With a tokenizer merge, every model's embedding matrix is read re-mapped to the output vocabulary.
  let remapped: Map<string, TensorEntry> | undefined;
  if (remap && isEmbedding(name)) {
    const inputs = new Map<string, TensorEntry>();
    for (const source of slice.sources) {
      const entry = stored(source);
      if (entry && !inputs.has(source.ref)) inputs.set(source.ref, entry);
    }
    remapped = remap(name, [...inputs].map(([ref, entry]) => ({ ref, entry })), slice.baseRef);
  }
  const lookup = (source: NormalizedSource): TensorEntry | undefined => remapped?.get(source.ref) ?? stored(source);
  const missing = (source: NormalizedSource) =>
    `tensor "${output.inputName(source)}" required but not present in model "${source.ref}" (${model(source.ref).dir})`;

  const separateBase = method.base !== "input";
  let base: PlannedInput | undefined;
  const models: PlannedInput[] = [];
  for (const source of slice.sources) {
    const isBase = source.ref === slice.baseRef;
    const entry = lookup(source);
    if (!entry) {
      if (isBase || method.shapes !== "base") throw new InputError(`${file}: ${missing(source)}`);
      warnings.push(`skipping model "${source.ref}" for ${name}: ${missing(source)}`);
      continue;
    }
    if (!isFloatDtype(entry.dtype)) {
      throw new InputError(`${entry.file}: tensor "${entry.name}" has dtype ${entry.dtype}; only F32, F16 and BF16 can be merged`);
    }
    const input: PlannedInput = { model: model(source.ref), entry, perModel: {} };
    if (isBase && separateBase) {
      base = input;
      continue;
    }
    const perModel = resolveAll(method, "model", { source: source.params, slice: slice.params, global: config.parameters }, output, source, file);
    if (perModel.missing) {
      if (isBase) continue; // a base with no weight in a method where it is just another input: left out
      throw new InputError(`${file}: Missing required parameter ${perModel.missing} for ${source.ref}.${output.inputName(source)}`);
    }
    input.perModel = perModel.values;
    models.push(input);
  }
  const globals = resolveAll(method, "global", { slice: slice.params, global: config.parameters }, output, undefined, file);
  if (globals.missing) throw new InputError(`${file}: Missing required parameter ${globals.missing} for ${name}`);

  const shape = settleShapes(name, method, base, models, warnings, file);
  const inputsProblem = method.checkInputs?.({ models: models.length, base: base !== undefined });
  if (inputsProblem) throw new InputError(`${file}: ${inputsProblem} (tensor ${name})`);
  const paramsProblem = method.checkParams?.(globals.values, models.map((m) => m.perModel));
  if (paramsProblem) throw new InputError(`${file}: ${paramsProblem} (tensor ${name})`);
  const dtype = dtypeOverride ?? ((base ?? models[0])!.entry.dtype as FloatDtype);
  return { name, shape, dtype, base, models, global: globals.values };
}

function resolveAll(
  method: MergeMethod,
  scope: ParamSpec["scope"],
  levels: { source?: Parameters | undefined; slice?: Parameters | undefined; global?: Parameters | undefined },
  output: OutputTensor,
  source: NormalizedSource | undefined,
  file: string,
): { values: Record<string, ParamValue>; missing?: string } {
  const values: Record<string, ParamValue> = {};
  const names = { input: source ? output.inputName(source) : output.name, output: output.name };
  for (const [key, spec] of Object.entries(method.params)) {
    if (spec.scope !== scope) continue;
    const value = resolveParameter(key, scope, levels, names, output.t) ?? spec.default;
    if (value === undefined) {
      if (spec.required) return { values, missing: key };
      continue;
    }
    const where = `${file}: parameter ${key}${source ? ` of "${source.ref}"` : ""} for ${output.name}`;
    if (typeof value !== spec.type) throw new InputError(`${where}: expected a ${spec.type}, got ${JSON.stringify(value)}`);
    const problem = spec.check?.(value as number);
    if (problem) throw new InputError(`${where}: ${problem}`);
    values[key] = value;
  }
  return { values };
}

/** Decides the output shape and crops embeddings of different vocabularies per the method's shape policy. */
function settleShapes(name: string, method: MergeMethod, base: PlannedInput | undefined, models: PlannedInput[], warnings: string[], file: string): number[] {
  const inputs = base ? [base, ...models] : models;
  const shapeText = (s: readonly number[]) => `[${s.join(", ")}]`;
  const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  const embedding = isEmbedding(name) && inputs.every((i) => i.entry.shape.length === 2);
  if (method.shapes === "base" && base) {
    const target = base.entry.shape;
    for (let i = models.length - 1; i >= 0; i--) {
      const m = models[i]!;
      const shape = m.entry.shape;
      if (sameShape(shape, target)) continue;
      if (embedding && shape[0]! >= target[0]! && shape[1]! >= target[1]!) {
        m.crop = [...target];
        continue;
      }
      warnings.push(`skipping model "${m.model.ref}" for ${name} due to size mismatch: ${shapeText(shape)} vs the base's ${shapeText(target)}`);
      models.splice(i, 1);
    }
    return [...target];
  }
  const first = inputs[0]!.entry.shape;
  if (inputs.every((i) => sameShape(i.entry.shape, first))) return [...first];
  if (!embedding) {
    const other = inputs.find((i) => !sameShape(i.entry.shape, first))!;
    throw new InputError(
      `${file}: shape mismatch for tensor "${name}": ${shapeText(first)} in "${inputs[0]!.model.ref}" but ${shapeText(other.entry.shape)} in "${other.model.ref}"`,
    );
  }
  const target = [Math.min(...inputs.map((i) => i.entry.shape[0]!)), Math.min(...inputs.map((i) => i.entry.shape[1]!))];
  for (const input of inputs) if (!sameShape(input.entry.shape, target)) input.crop = target;
  return target;
}
