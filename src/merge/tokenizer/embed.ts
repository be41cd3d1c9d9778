import { InputError } from "../../errors.ts";
import { DTYPE_BYTES, isFloatDtype, type FloatDtype } from "../safetensors/dtype.ts";
import type { TensorEntry } from "../safetensors/header.ts";
import type { TokenizerPlan } from "./build.ts";
import type { RowFill, VocabRemap, VocabRemappedEntry } from "./remap-read.ts";
import type { TokenSetting } from "./settings.ts";

/**
 * Which row each model's embedding (embed_tokens, lm_head) gets for each output token, before the merge
 * method sees it: mergekit's PermutedEmbeddings (mergekit/tokenizer/embed.py). For one tensor, the models are
 * its inputs and the slice's base. A model that has a token keeps its own row, unless the token's `tokens:`
 * entry sets `force`. A model that lacks it takes the token's default row:
 *   - its `tokens:` entry's source: a model's row for the token, `{kind: model_token}`'s row, or zeros;
 *   - else, if exactly one model has the token, that model's row;
 *   - else, if none has it, zeros (with a warning);
 *   - else, if the base has it, the base's row;
 *   - else the mean of the rows of the models that have it.
 * Rows past the vocabulary (pad_to_multiple_of) get the mean of the model's rows above them.
 */

export interface EmbeddingInput {
  ref: string;
  entry: TensorEntry;
}

interface Default {
  /** [input index, row] pairs, flattened; empty: zeros; more than one pair: their mean. */
  terms: number[];
}

/**
 * The inputs' entries re-mapped to the output vocabulary, by model reference. `where` prefixes messages;
 * `loadDtype` is the recipe's `dtype`. Tokens found in no model are reported through `warn`, once per token.
 */
export function remapEmbeddings(
  plan: TokenizerPlan,
  tensor: string,
  inputs: EmbeddingInput[],
  baseRef: string | undefined,
  loadDtype: FloatDtype | undefined,
  where: string,
  warn: (token: string) => void,
): Map<string, TensorEntry> {
  const result = new Map<string, TensorEntry>();
  if (inputs.length === 0) return result;
  for (const { ref, entry } of inputs) {
    if (!isFloatDtype(entry.dtype)) throw new InputError(`${entry.file}: tensor "${entry.name}" has dtype ${entry.dtype}; only F32, F16 and BF16 can be merged`);
    if (entry.shape.length !== 2) throw new InputError(`${where}: tensor ${tensor} of "${ref}" has shape [${entry.shape.join(", ")}]; a vocabulary re-map needs a matrix`);
  }
  const cols = inputs[0]!.entry.shape[1]!;
  const odd = inputs.find((i) => i.entry.shape[1] !== cols);
  if (odd) {
    // mergekit: "Embedding sizes must match".
    throw new InputError(`${where}: embedding sizes must match for ${tensor}: ${cols} columns in "${inputs[0]!.ref}" but ${odd.entry.shape[1]} in "${odd.ref}"`);
  }
  const perms = inputs.map(({ ref, entry }) => {
    const p = plan.permutations.get(ref)!;
    const rows = entry.shape[0]!;
    const outside = p.findIndex((row) => row >= rows);
    if (outside >= 0) {
      throw new InputError(
        `${where}: token "${plan.tokens[outside]}" has id ${p[outside]} in "${ref}", but its ${tensor} has ${rows} rows (is config.json's vocab_size larger than the tensor?)`,
      );
    }
    return p;
  });
  const indexOf = (ref: string, setting: TokenSetting) => {
    const index = inputs.findIndex((i) => i.ref === ref);
    if (index < 0) throw new InputError(`${setting.where}: model "${ref}" has no ${tensor} among this tensor's inputs (as in mergekit, a source must be merged into it)`);
    return index;
  };
  const settings = new Map(plan.settings.tokens.map((s) => [s.token, s]));
  const baseIndex = baseRef === undefined ? -1 : inputs.findIndex((i) => i.ref === baseRef);

  const defaults = new Map<number, Default>();
  const defaultOf = (id: number): Default => {
    let found = defaults.get(id);
    if (found) return found;
    const token = plan.tokens[id]!;
    const setting = settings.get(token);
    if (setting) found = configuredDefault(setting, id, inputs, perms, plan, tensor, indexOf);
    else {
      const holders = perms.flatMap((p, i) => (p[id]! >= 0 ? [i] : []));
      if (holders.length === 1) found = { terms: [holders[0]!, perms[holders[0]!]![id]!] };
      else if (holders.length === 0) {
        warn(token);
        found = { terms: [] };
      } else if (baseIndex >= 0 && perms[baseIndex]![id]! >= 0) found = { terms: [baseIndex, perms[baseIndex]![id]!] };
      else found = { terms: holders.flatMap((i) => [i, perms[i]![id]!]) };
    }
    defaults.set(id, found);
    return found;
  };

  const forced = new Set(plan.settings.tokens.filter((s) => s.force).map((s) => plan.tokens.indexOf(s.token)));
  inputs.forEach(({ ref, entry }, index) => {
    const p = perms[index]!;
    const rows = new Int32Array(plan.tokens.length);
    const fills: RowFill[] = [];
    for (let id = 0; id < rows.length; id++) {
      if (p[id]! >= 0 && !forced.has(id)) rows[id] = p[id]!;
      else {
        rows[id] = -1;
        fills.push({ row: id, terms: defaultOf(id).terms });
      }
    }
    const work = loadDtype ?? (entry.dtype as FloatDtype);
    const remap: VocabRemap = { source: entry, rows, fills, tensors: inputs.map((i) => i.entry), work };
    const remapped: VocabRemappedEntry = {
      name: entry.name,
      file: entry.file,
      dtype: work,
      shape: [plan.rows, cols],
      offset: entry.offset,
      byteLength: plan.rows * cols * DTYPE_BYTES[work]!,
      vocabRemap: remap,
    };
    result.set(ref, remapped);
  });
  return result;
}

function configuredDefault(
  setting: TokenSetting,
  id: number,
  inputs: EmbeddingInput[],
  perms: Int32Array[],
  plan: TokenizerPlan,
  tensor: string,
  indexOf: (ref: string, setting: TokenSetting) => number,
): Default {
  const source = setting.source;
  if (source.kind === "zero") return { terms: [] };
  const index = indexOf(source.ref, setting);
  if (source.kind === "model") return { terms: [index, perms[index]![id]!] };
  const row = source.tokenId ?? plan.vocabs.get(source.ref)!.get(source.token!)!;
  const rows = inputs[index]!.entry.shape[0]!;
  if (row >= rows) throw new InputError(`${setting.where}: token id ${row} out of range for model "${source.ref}" (its ${tensor} has ${rows} rows)`);
  return { terms: [index, row] };
}
