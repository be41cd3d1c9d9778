import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../errors.ts";
import { didYouMean } from "../../util/suggest.ts";
import { resolveModelSource } from "../model-ref.ts";
import type { ModelInput } from "../plan.ts";
import { referencedModels, type TokenizerSettings } from "./settings.ts";
import { TOKENIZER_JSON, TokenizerData, type AddedToken } from "./vocab.ts";

/**
 * The output vocabulary of a merge and, for every model, where each output token sits in that model's
 * embedding rows: mergekit's BuildTokenizer (mergekit/tokenizer/build.py), read from tokenizer.json files.
 *
 *   - The tokenizer base is the base model, else the first model named (mergekit: its `referenced_models()[0]`,
 *     from a Python set). Its vocabulary is stripped of tokens with ids ≥ its config's vocab_size.
 *   - `base`: the stripped base vocabulary. `<model>`: that model's tokenizer as it is (it need not be merged).
 *   - `union`: the stripped base, then every other model's vocabulary tokens it lacks (as added tokens, each
 *     model in recipe order, its tokens in id order; mergekit's order follows Python sets and dicts), then every
 *     model's added tokens (the first model's settings win when they differ). Tokens with ids ≥ a model's
 *     vocab_size are left out.
 *   - Then each `tokens:` key is added (as transformers' `add_tokens(str)`: not special, normalized).
 *   - Permutations: output id → the model's row, or -1 where the model lacks the token or its id is ≥ its
 *     vocab_size. A model without tokenizer.json is assumed to have the base's vocabulary, with a warning, as
 *     mergekit does ("Unable to load tokenizer … Assuming same as base").
 */

export interface TokenizerPlan {
  settings: TokenizerSettings;
  /** The output tokenizer (written as tokenizer.json). */
  output: TokenizerData;
  /** The folder whose tokenizer_config.json and special_tokens_map.json the output starts from. */
  sourceDir: string;
  /** True when the output vocabulary is exactly the source folder's, so its slow-tokenizer files still fit. */
  unchanged: boolean;
  /** Output tokens by id (0 … n−1). */
  tokens: string[];
  /** Embedding rows of the output: the vocabulary, padded to a multiple of pad_to_multiple_of. */
  rows: number;
  /** Per model reference: output id → the model's row, or -1. */
  permutations: Map<string, Int32Array>;
  /** Per model reference: its vocabulary as the merge sees it (for `{kind: model_token, token}`). */
  vocabs: Map<string, Map<string, number>>;
  warnings: string[];
  notes: string[];
}

export function planTokenizer(settings: TokenizerSettings, models: ModelInput[], tokenizerBase: ModelInput, cwd: string): TokenizerPlan {
  const warnings: string[] = [];
  const vocabSizeOf = (model: ModelInput, vocab: Map<string, number>) => configVocabSize(model) ?? vocab.size;
  const readStripped = () => {
    const data = TokenizerData.read(tokenizerBase.dir, `${settings.where}: the tokenizer base "${tokenizerBase.ref}"`);
    return { data, removed: data.strip(vocabSizeOf(tokenizerBase, data.vocab()), `${settings.where}: the tokenizer base "${tokenizerBase.ref}"`) };
  };
  const base = readStripped();
  if (base.removed.length > 0) {
    warnings.push(
      `${settings.where}: ${base.removed.length} token(s) of the tokenizer base "${tokenizerBase.ref}" have ids ≥ its vocab_size and are left out ` +
        `(${preview(base.removed)}), as mergekit does`,
    );
  }

  // Every model's tokenizer; the base's is the stripped one.
  const tokenizers = new Map<string, TokenizerData>([[tokenizerBase.ref, base.data]]);
  const ordered = [tokenizerBase, ...models.filter((m) => m !== tokenizerBase)];
  for (const model of ordered) {
    if (model === tokenizerBase) continue;
    if (!existsSync(join(model.dir, TOKENIZER_JSON))) {
      warnings.push(`${settings.where}: "${model.ref}" has no ${TOKENIZER_JSON} (${model.dir}); its vocabulary is assumed to be the base's, as mergekit assumes`);
      continue;
    }
    tokenizers.set(model.ref, TokenizerData.read(model.dir, `${settings.where}: model "${model.ref}"`));
  }

  let output: TokenizerData;
  let sourceDir = tokenizerBase.dir;
  let describe: string;
  let sourceSize = base.data.vocab().size + base.removed.length;
  const source = settings.source;
  if (source.kind === "model") {
    const known = models.find((m) => m.ref === source.ref);
    sourceDir = known?.dir ?? tokenizerSourceDir(source.ref, cwd, settings.where, models);
    output = TokenizerData.read(sourceDir, `${settings.where}: "${source.ref}"`);
    sourceSize = output.vocab().size;
    describe = `the tokenizer of "${source.ref}"`;
  } else if (source.kind === "base") {
    output = readStripped().data;
    describe = `the base's tokenizer ("${tokenizerBase.ref}")`;
  } else {
    output = readStripped().data;
    const union = unionTokens(ordered, tokenizers, vocabSizeOf, warnings, settings.where);
    const baseVocab = base.data.vocab();
    for (const token of union.regular) if (!baseVocab.has(token)) output.addToken(token);
    for (const token of union.added) output.addToken(token);
    describe = `the union of ${tokenizers.size} vocabular${tokenizers.size === 1 ? "y" : "ies"}`;
  }
  const before = output.vocab().size;
  for (const setting of settings.tokens) output.addToken(setting.token);

  const vocab = output.vocab();
  const tokens: string[] = new Array<string>(vocab.size);
  for (const [token, id] of vocab) {
    if (id >= vocab.size) {
      throw new InputError(
        `${settings.where}: the output vocabulary's ids are not contiguous: ${vocab.size} tokens, but "${token}" has id ${id} ` +
          "(embedding rows are indexed by token id; mergekit fails here too)",
      );
    }
    tokens[id] = token;
  }
  const pad = settings.padToMultipleOf;
  const rows = pad && tokens.length % pad ? tokens.length + pad - (tokens.length % pad) : tokens.length;

  const permutations = new Map<string, Int32Array>();
  const vocabs = new Map<string, Map<string, number>>();
  for (const model of ordered) {
    const modelVocab = (tokenizers.get(model.ref) ?? base.data).vocab();
    const size = vocabSizeOf(model, modelVocab);
    const p = new Int32Array(tokens.length).fill(-1);
    const beyond: string[] = [];
    tokens.forEach((token, id) => {
      const own = modelVocab.get(token);
      if (own === undefined) return;
      if (own >= size) beyond.push(token);
      else p[id] = own;
    });
    if (beyond.length > 0 && model !== tokenizerBase) {
      warnings.push(
        `${settings.where}: ${beyond.length} token(s) of "${model.ref}" have ids ≥ its vocab_size ${size} (padding?) and count as missing from it: ${preview(beyond)}`,
      );
    }
    permutations.set(model.ref, p);
    vocabs.set(model.ref, modelVocab);
  }
  checkTokenSettings(settings, ordered, tokens, permutations, vocabs);

  const added = tokens.length - before;
  const notes = [
    `tokenizer: ${describe}, ${tokens.length} tokens` +
      (added > 0 ? ` (+${added} from tokenizer.tokens)` : "") +
      (rows !== tokens.length ? `, embeddings padded to ${rows} rows (pad_to_multiple_of ${pad})` : "") +
      `; embed_tokens and lm_head rows re-mapped for ${ordered.length} model(s); config.json vocab_size ${rows}`,
  ];
  // The source folder's own files (slow tokenizer, added_tokens.json) still fit when no token was removed or added.
  const unchanged = tokens.length === sourceSize && (source.kind === "model" || base.removed.length === 0);
  return { settings, output, sourceDir, unchanged, tokens, rows, permutations, vocabs, warnings, notes };
}

/** The tokens the union adds: vocabulary tokens of every model, then added tokens (settings of the first model met). */
function unionTokens(
  ordered: ModelInput[],
  tokenizers: Map<string, TokenizerData>,
  vocabSizeOf: (model: ModelInput, vocab: Map<string, number>) => number,
  warnings: string[],
  where: string,
): { regular: string[]; added: Omit<AddedToken, "id">[] } {
  const regular = new Set<string>();
  const added = new Map<string, Omit<AddedToken, "id">>();
  const conflicting: string[] = [];
  for (const model of ordered) {
    const data = tokenizers.get(model.ref);
    if (!data) continue;
    const vocab = data.vocab();
    const size = vocabSizeOf(model, vocab);
    const byId = [...vocab].filter(([, id]) => id < size).sort((a, b) => a[1] - b[1]);
    for (const [token] of byId) if (!data.isAdded(token)) regular.add(token);
    for (const { id, ...info } of data.addedTokens()) {
      if (id >= size) continue;
      const first = added.get(info.content);
      if (!first) added.set(info.content, info);
      else if (!sameSettings(first, info) && !conflicting.includes(info.content)) conflicting.push(info.content);
    }
  }
  for (const token of conflicting) warnings.push(`${where}: token "${token}" added with multiple different settings, using first (as mergekit)`);
  return { regular: [...regular].filter((t) => !added.has(t)), added: [...added.values()] };
}

function sameSettings(a: Omit<AddedToken, "id">, b: Omit<AddedToken, "id">): boolean {
  return a.single_word === b.single_word && a.lstrip === b.lstrip && a.rstrip === b.rstrip && a.normalized === b.normalized && a.special === b.special;
}

/** Each `tokens:` source must name a model of the merge that has what it points at (mergekit asserts the same, mid-merge). */
function checkTokenSettings(
  settings: TokenizerSettings,
  models: ModelInput[],
  tokens: string[],
  permutations: Map<string, Int32Array>,
  vocabs: Map<string, Map<string, number>>,
): void {
  const refs = models.map((m) => m.ref);
  for (const { ref, where } of referencedModels(settings)) {
    if (!refs.includes(ref)) {
      throw new InputError(`${where}: source model "${ref}" is not part of the merge (models: ${refs.map((r) => `"${r}"`).join(", ")})`);
    }
  }
  for (const setting of settings.tokens) {
    const source = setting.source;
    if (source.kind === "model") {
      const id = tokens.indexOf(setting.token);
      if (permutations.get(source.ref)![id]! < 0) throw new InputError(`${setting.where}: token "${setting.token}" not found in model "${source.ref}"`);
    } else if (source.kind === "model_token" && source.token !== undefined && !vocabs.get(source.ref)!.has(source.token)) {
      throw new InputError(`${setting.where}: token "${source.token}" not found in model "${source.ref}"`);
    }
  }
}

/** config.json's vocab_size (mergekit reads the architecture's vocab_size key; vocab_size for every causal LM here). */
export function configVocabSize(model: ModelInput): number | undefined {
  const value = model.config?.vocab_size;
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

function preview(tokens: string[]): string {
  const shown = tokens.slice(0, 5).map((t) => JSON.stringify(t));
  return tokens.length > 5 ? `${shown.join(", ")} and ${tokens.length - 5} more` : shown.join(", ");
}

/** The folder of a tokenizer source outside the merge; a name that is no folder may be a misspelt keyword. */
function tokenizerSourceDir(ref: string, cwd: string, where: string, models: ModelInput[]): string {
  try {
    return resolveModelSource(ref, cwd).dir;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const hint = didYouMean(ref, ["base", "union", ...models.map((m) => m.ref)]);
    throw new InputError(`${where}: "${ref}" is not base, union or a model of the merge, and ${err.message}${hint}`);
  }
}
