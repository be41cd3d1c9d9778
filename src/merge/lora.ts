import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, InputError } from "../errors.ts";
import { closestName } from "../util/suggest.ts";
import type { LoraPatch, LoraPatchedEntry } from "./lora-apply.ts";
import type { Checkpoint } from "./safetensors/checkpoint.ts";
import { isFloatDtype } from "./safetensors/dtype.ts";
import { readSafetensorsHeader, type TensorEntry } from "./safetensors/header.ts";

/**
 * PEFT LoRA adapters for `model+adapter` references. mergekit merges the adapter into the model with PEFT
 * (`PeftModel.from_pretrained(...).merge_and_unload()`, mergekit/common.py ModelReference.merged) into its
 * --lora-merge-cache and merges that copy. mergeval never writes that copy: the adapter's A and B are planned
 * here, and each patched tensor gets W + scale·B·A when it is read (lora-apply.ts), one tensor at a time.
 *
 * Only what PEFT's plain LoRA merge does is accepted. Everything else an adapter may carry is refused, naming
 * the file and the field or tensor, because skipping it would silently merge a different model.
 */

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
const PREFIX = "base_model.model.";

export interface LoraAdapter {
  /** The adapter part of the reference, as written. */
  ref: string;
  dir: string;
  rank: number;
  alpha: number;
  rslora: boolean;
  fanInFanOut: boolean;
  /** lora_alpha / r (or / √r with use_rslora) at the configured r; a module with its own rank has its own. */
  scale: number;
  /** Patches by the name of the base tensor they apply to. */
  patches: Map<string, LoraPatch>;
  /** base_model_name_or_path in adapter_config.json, if given (informative). */
  trainedOn?: string;
}

interface AdapterModule {
  kind: "linear" | "embedding";
  a?: TensorEntry;
  b?: TensorEntry;
}

/** Reads and checks adapter_config.json and the header of adapter_model.safetensors (no weights are read). */
export async function readLoraAdapter(dir: string, ref: string): Promise<LoraAdapter> {
  const configFile = join(dir, ADAPTER_CONFIG);
  const weightsFile = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(configFile)) {
    const found = existsSync(dir) ? (await readdir(dir)).join(", ") || "nothing" : "no such folder";
    throw new InputError(`LoRA adapter "${ref}": no ${ADAPTER_CONFIG} in ${dir} (found: ${found}); a PEFT adapter folder has ${ADAPTER_CONFIG} and ${ADAPTER_WEIGHTS}`);
  }
  const config = await readConfig(configFile);
  const field = (name: string) => config[name];
  const refuse = (name: string, why: string) => new InputError(`${configFile}: ${name}: ${why}`);

  const peftType = field("peft_type");
  if (peftType !== undefined && peftType !== "LORA") throw refuse("peft_type", `${JSON.stringify(peftType)} is not LORA; only LoRA adapters can be merged into a model`);
  const rank = field("r") ?? 8; // PEFT's LoraConfig defaults
  const alpha = field("lora_alpha") ?? 8;
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank <= 0) throw refuse("r", `expected a positive integer, got ${JSON.stringify(rank)}`);
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) throw refuse("lora_alpha", `expected a number, got ${JSON.stringify(alpha)}`);
  const flag = (name: string): boolean => {
    const value = field(name) ?? false;
    if (typeof value !== "boolean") throw refuse(name, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  };
  const rslora = flag("use_rslora");
  const fanInFanOut = flag("fan_in_fan_out");
  if (flag("use_dora")) throw refuse("use_dora", "DoRA adapters (a learnt magnitude per output row) are not supported; only plain LoRA (W + scale·B·A) is");
  if (flag("lora_bias")) throw refuse("lora_bias", "LoRA with a bias on lora_B is not supported; only plain LoRA (W + scale·B·A) is");
  const nonEmpty = (value: unknown) =>
    value !== undefined && value !== null && value !== false && !(Array.isArray(value) && value.length === 0) && !(isRecord(value) && Object.keys(value).length === 0);
  const unsupported: Record<string, string> = {
    modules_to_save: "the adapter carries whole trained modules that replace the base's (modules_to_save); mergeval does not apply them",
    alpha_pattern: "per-module lora_alpha (alpha_pattern) is not supported",
    layer_replication: "layer_replication changes the model's layers; it is not supported",
    target_parameters: "LoRA on bare parameters (target_parameters) is not supported",
    trainable_token_indices: "trainable token rows (trainable_token_indices) are not supported",
  };
  for (const [name, why] of Object.entries(unsupported)) if (nonEmpty(field(name))) throw refuse(name, `${why} (got ${JSON.stringify(field(name))})`);
  const bias = field("bias") ?? "none";
  if (bias !== "none" && bias !== "all" && bias !== "lora_only") throw refuse("bias", `expected "none", "all" or "lora_only", got ${JSON.stringify(bias)}`);
  const rankPattern = field("rank_pattern");
  const perModuleRank = nonEmpty(rankPattern);

  if (!existsSync(weightsFile)) {
    const bin = existsSync(join(dir, "adapter_model.bin"));
    throw new InputError(`LoRA adapter "${ref}": no ${ADAPTER_WEIGHTS} in ${dir}${bin ? " (adapter_model.bin is a pickle: only safetensors adapters are read)" : ""}`);
  }
  const modules = new Map<string, AdapterModule>();
  for (const entry of (await readSafetensorsHeader(weightsFile)).tensors) {
    const parsed = parseAdapterKey(entry.name);
    if (!parsed.ok) throw new InputError(`${weightsFile}: tensor "${entry.name}": ${parsed.why}${bias !== "none" && entry.name.endsWith(".bias") ? ` (bias: ${bias} in ${ADAPTER_CONFIG})` : ""}`);
    const module = modules.get(parsed.module) ?? { kind: parsed.kind };
    if (module.kind !== parsed.kind) throw new InputError(`${weightsFile}: "${parsed.module}" has both linear (lora_A/lora_B) and embedding (lora_embedding_A/B) weights`);
    module[parsed.part] = entry;
    modules.set(parsed.module, module);
  }
  if (modules.size === 0) throw new InputError(`${weightsFile}: no LoRA weights (no base_model.model.<module>.lora_A.weight / lora_B.weight)`);

  const scaleFor = (r: number) => (rslora ? alpha / Math.sqrt(r) : alpha / r);
  const patches = new Map<string, LoraPatch>();
  for (const [name, module] of modules) {
    const [aName, bName] = module.kind === "linear" ? ["lora_A.weight", "lora_B.weight"] : ["lora_embedding_A", "lora_embedding_B"];
    if (!module.a || !module.b) throw new InputError(`${weightsFile}: "${PREFIX}${name}.${module.a ? bName : aName}" is missing (its pair ${module.a ? aName : bName} is there)`);
    const { a, b } = module;
    for (const entry of [a, b]) {
      if (!isFloatDtype(entry.dtype)) throw new InputError(`${weightsFile}: tensor "${entry.name}" has dtype ${entry.dtype}; only F32, F16 and BF16 LoRA weights are read`);
      if (entry.shape.length !== 2) {
        throw new InputError(`${weightsFile}: tensor "${entry.name}" has shape [${entry.shape.join(", ")}]; only 2-D LoRA weights (linear and embedding layers) are supported, not convolutions`);
      }
    }
    const r = a.shape[0]!;
    if (b.shape[1] !== r) throw new InputError(`${weightsFile}: "${name}": lora_A is [${a.shape.join(", ")}] but lora_B is [${b.shape.join(", ")}]; their rank (A's rows, B's columns) must agree`);
    if (r !== rank && !perModuleRank) throw new InputError(`${weightsFile}: "${name}" has rank ${r} (lora_A's rows) but ${ADAPTER_CONFIG} says r: ${rank} and has no rank_pattern`);
    patches.set(`${name}.weight`, {
      a,
      b,
      rank: r,
      scale: scaleFor(r),
      transposed: module.kind === "embedding" || fanInFanOut,
      adapter: ref,
    });
  }
  const trainedOn = field("base_model_name_or_path");
  return { ref, dir, rank, alpha, rslora, fanInFanOut, scale: scaleFor(rank), patches, ...(typeof trainedOn === "string" && trainedOn ? { trainedOn } : {}) };
}

type ParsedKey = { ok: true; module: string; kind: AdapterModule["kind"]; part: "a" | "b" } | { ok: false; why: string };

function parseAdapterKey(key: string): ParsedKey {
  if (!key.startsWith(PREFIX)) return { ok: false, why: `expected PEFT's "${PREFIX}<module>.lora_A.weight" naming` };
  const rest = key.slice(PREFIX.length);
  const forms: [string, AdapterModule["kind"], "a" | "b"][] = [
    [".lora_A.weight", "linear", "a"],
    [".lora_B.weight", "linear", "b"],
    [".lora_embedding_A", "embedding", "a"],
    [".lora_embedding_B", "embedding", "b"],
  ];
  for (const [suffix, kind, part] of forms) if (rest.endsWith(suffix) && rest.length > suffix.length) return { ok: true, module: rest.slice(0, -suffix.length), kind, part };
  if (rest.endsWith(".lora_magnitude_vector") || rest.includes(".lora_magnitude_vector.")) return { ok: false, why: "a DoRA magnitude vector; DoRA adapters are not supported" };
  if (/\.lora_[AB]\.bias$/.test(rest)) return { ok: false, why: "a bias on a LoRA matrix (lora_bias); not supported" };
  if (/\.lora_[AB]\.[^.]+\.weight$/.test(rest)) return { ok: false, why: "a LoRA weight saved under an adapter name; PEFT saves adapters without it (save_pretrained)" };
  if (rest.includes(".modules_to_save.") || rest.endsWith(".weight") || rest.endsWith(".bias")) {
    return { ok: false, why: "a whole trained weight that would replace the base's (modules_to_save or a trained bias); not applied by mergeval" };
  }
  return { ok: false, why: "not a LoRA weight mergeval knows (lora_A.weight, lora_B.weight, lora_embedding_A, lora_embedding_B)" };
}

/**
 * The model's checkpoint with the adapter's tensors patched: each targeted entry carries its patch, read as
 * W + scale·B·A (lora-apply.ts). Every adapter module must name a 2-D float tensor of the model whose shape
 * is B·A's (or its transpose for embeddings and fan_in_fan_out), else the reference is refused.
 */
export function attachLoraAdapter(checkpoint: Checkpoint, adapter: LoraAdapter, modelRef: string): Checkpoint {
  const weightsFile = join(adapter.dir, ADAPTER_WEIGHTS);
  const replaced = new Map<string, TensorEntry>();
  for (const [name, patch] of adapter.patches) {
    const entry = checkpoint.get(name);
    const adapterKey = patch.a.name;
    if (!entry) {
      const near = closestName(name, checkpoint.tensors.keys());
      const tied = /lm_head/.test(name) ? " (a tied lm_head is stored as embed_tokens only: PEFT's merge would change both)" : "";
      throw new InputError(
        `${weightsFile}: "${adapterKey}" targets tensor "${name}", which model "${modelRef}" (${checkpoint.dir}) does not have${near ? ` — did you mean "${near}"?` : ""}${tied}`,
      );
    }
    if (!isFloatDtype(entry.dtype)) throw new InputError(`${entry.file}: tensor "${name}" has dtype ${entry.dtype}; a LoRA delta can only be added to F32, F16 or BF16`);
    const [outDim, inDim] = [patch.b.shape[0]!, patch.a.shape[1]!];
    const expected = patch.transposed ? [inDim, outDim] : [outDim, inDim];
    if (entry.shape.length !== 2 || entry.shape[0] !== expected[0] || entry.shape[1] !== expected[1]) {
      const other = patch.transposed ? [outDim, inDim] : [inDim, outDim];
      const hint =
        entry.shape.length === 2 && entry.shape[0] === other[0] && entry.shape[1] === other[1] && !/embed/.test(name)
          ? ` (that is the transpose: check fan_in_fan_out, ${adapter.fanInFanOut} in ${ADAPTER_CONFIG})`
          : "";
      throw new InputError(
        `${weightsFile}: "${name}" is [${entry.shape.join(", ")}] in model "${modelRef}" but the adapter's B·A${patch.transposed ? "ᵀ" : ""} is [${expected.join(", ")}]${hint}`,
      );
    }
    const patched: LoraPatchedEntry = { ...entry, lora: patch };
    replaced.set(name, patched);
  }
  return checkpoint.withEntries(replaced);
}

/** One line for the dry run. */
export function describeAdapter(adapter: LoraAdapter, modelRef: string, modelDir: string): string {
  const scale = adapter.rslora ? `lora_alpha/√r = ${fmt(adapter.scale)} (use_rslora)` : `lora_alpha/r = ${fmt(adapter.scale)}`;
  const ranks = new Set([...adapter.patches.values()].map((p) => p.rank));
  const rankText = ranks.size > 1 || !ranks.has(adapter.rank) ? `ranks ${[...ranks].sort((x, y) => x - y).join("/")} (rank_pattern)` : `r ${adapter.rank}`;
  return (
    `model "${modelRef}": LoRA adapter ${adapter.dir} (${rankText}, lora_alpha ${adapter.alpha}, scale ${scale}` +
    `${adapter.fanInFanOut ? ", fan_in_fan_out" : ""}) added to ${adapter.patches.size} tensor${adapter.patches.size === 1 ? "" : "s"} of ${modelDir} as they are read` +
    (adapter.trainedOn ? `; trained on ${adapter.trainedOn}` : "")
  );
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(6).replace(/0+$/, "");
}

async function readConfig(file: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new InputError(`${file}: not valid JSON (${errorMessage(err)})`);
  }
  if (!isRecord(value)) throw new InputError(`${file}: expected a JSON object`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
