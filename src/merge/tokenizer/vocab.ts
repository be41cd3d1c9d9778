import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../errors.ts";

/**
 * A Hugging Face fast tokenizer (tokenizer.json) as plain data, with the few operations a vocabulary merge
 * needs, done the way the `tokenizers` library does them: the vocabulary is the model's plus the added tokens
 * (`get_vocab()`), adding a token follows AddedVocabulary.add_tokens, stripping follows mergekit's
 * get_stripped_tokenizer. Only tokenizer.json is read: a model with only a slow tokenizer (tokenizer.model,
 * vocab.json + merges.txt) is refused.
 */

export const TOKENIZER_JSON = "tokenizer.json";

/** One entry of tokenizer.json's `added_tokens` (tokenizers' AddedToken, with its id). */
export interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type Json = Record<string, unknown>;

export class TokenizerData {
  private constructor(
    /** The parsed tokenizer.json; `model.vocab`, `model.merges` and `added_tokens` are kept in step with the fields below. */
    private readonly json: Json,
    /** The model's own vocabulary (model.vocab), token → id. */
    private readonly modelVocab: Map<string, number>,
    /** Added tokens by content, in id order as written. */
    private readonly added: Map<string, AddedToken>,
    readonly file: string,
  ) {
    for (const token of added.values()) this.maxAddedId = Math.max(this.maxAddedId, token.id);
  }

  /** The largest id among the added tokens, -1 when there are none (tokenizers' next-id rule reads it). */
  private maxAddedId = -1;

  /** Reads `dir`/tokenizer.json; `who` names the model in messages. */
  static read(dir: string, who: string): TokenizerData {
    const file = join(dir, TOKENIZER_JSON);
    if (!existsSync(file)) {
      const slow = ["tokenizer.model", "vocab.json", "merges.txt"].filter((f) => existsSync(join(dir, f)));
      throw new InputError(
        `${who}: no ${TOKENIZER_JSON} in ${dir}` +
          (slow.length ? ` (only ${slow.join(", ")}: a slow tokenizer, which mergeval cannot merge; save it as a fast tokenizer first)` : ""),
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new InputError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    if (!isRecord(json) || !isRecord(json.model)) throw new InputError(`${file}: no "model" object (not a tokenizers tokenizer.json)`);
    return new TokenizerData(json, readModelVocab(json.model, file), readAddedTokens(json.added_tokens, file), file);
  }

  /** tokenizer.json's model.type (BPE, WordPiece, WordLevel, Unigram). */
  get modelType(): string {
    return String((this.json.model as Json).type ?? "BPE");
  }

  /** get_vocab(): the model's tokens and the added ones, token → id (an added token's id wins). */
  vocab(): Map<string, number> {
    const vocab = new Map(this.modelVocab);
    for (const token of this.added.values()) vocab.set(token.content, token.id);
    return vocab;
  }

  /** added_tokens_decoder: the added tokens, in id order. */
  addedTokens(): AddedToken[] {
    return [...this.added.values()].sort((a, b) => a.id - b.id);
  }

  isAdded(token: string): boolean {
    return this.added.has(token);
  }

  /**
   * Adds a token as tokenizers' AddedVocabulary.add_tokens does: a token already added is left as it is; one in
   * the model's vocabulary becomes an added token at its id; a new one takes the next id after the model's
   * vocabulary and the added tokens above it. A plain string is added as transformers' `add_tokens(str)` adds
   * it: not special, normalized. Returns the token's id and whether it is new to the vocabulary.
   */
  addToken(token: string | Omit<AddedToken, "id">): { id: number; isNew: boolean } {
    const spec: Omit<AddedToken, "id"> =
      typeof token === "string" ? { content: token, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false } : token;
    const existing = this.added.get(spec.content);
    if (existing) return { id: existing.id, isNew: false };
    const inModel = this.modelVocab.get(spec.content);
    let id: number;
    if (inModel !== undefined) id = inModel;
    else {
      const size = this.modelVocab.size;
      const max = this.maxAddedId;
      id = max < 0 ? size : max >= size || size === 0 ? max + 1 : size;
    }
    this.added.set(spec.content, { id, ...spec });
    this.maxAddedId = Math.max(this.maxAddedId, id);
    return { id, isNew: inModel === undefined };
  }

  /**
   * mergekit's get_stripped_tokenizer: tokens with ids ≥ `vocabSize` (the config's vocab_size; padding or unused
   * tokens) leave the vocabulary. mergekit supports this for BPE only ("only BPE is currently supported for
   * tokenizer merge"). Merges that use a removed token go too; unlike mergekit, so do merges that produce one
   * (the `tokenizers` library refuses a BPE whose merge yields a token outside its vocabulary). Returns the
   * removed tokens.
   */
  strip(vocabSize: number, who: string): string[] {
    const removed = [...this.vocab()].filter(([, id]) => id >= vocabSize).map(([token]) => token);
    if (removed.length === 0) return [];
    if (this.modelType !== "BPE") {
      throw new InputError(
        `${who}: ${removed.length} token(s) of ${this.file} have ids ≥ its config vocab_size ${vocabSize} and would have to be removed, but its tokenizer ` +
          `has type ${this.modelType}; only BPE is currently supported for tokenizer merge (as in mergekit)`,
      );
    }
    const gone = new Set(removed);
    for (const token of removed) {
      this.modelVocab.delete(token);
      this.added.delete(token);
    }
    this.maxAddedId = -1;
    for (const token of this.added.values()) this.maxAddedId = Math.max(this.maxAddedId, token.id);
    const model = this.json.model as Json;
    if (Array.isArray(model.merges)) {
      model.merges = model.merges.filter((merge: unknown) => {
        const parts = typeof merge === "string" ? merge.split(" ") : Array.isArray(merge) ? merge.map(String) : undefined;
        if (!parts || parts.length !== 2) throw new InputError(`${this.file}: unexpected merge format ${JSON.stringify(merge)}`);
        return !parts.some((p) => gone.has(p)) && !gone.has(parts.join(""));
      });
    }
    return removed;
  }

  /** The tokenizer.json to write: the source's, with the vocabulary and added tokens as they now are. */
  toJson(): Json {
    const model = { ...(this.json.model as Json) };
    // A Unigram vocabulary is a list of [piece, score] whose index is the id: never stripped, so written as read.
    if (!Array.isArray(model.vocab)) model.vocab = Object.fromEntries([...this.modelVocab].sort((a, b) => a[1] - b[1]));
    return { ...this.json, added_tokens: this.addedTokens(), model };
  }
}

function readModelVocab(model: Json, file: string): Map<string, number> {
  const vocab = model.vocab;
  const map = new Map<string, number>();
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], …], the id being the index.
    vocab.forEach((entry: unknown, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== "string") throw new InputError(`${file}: model.vocab[${id}] is not a [piece, score] pair`);
      if (!map.has(entry[0])) map.set(entry[0], id);
    });
    return map;
  }
  if (!isRecord(vocab)) throw new InputError(`${file}: model.vocab is missing (model type ${String(model.type)})`);
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw new InputError(`${file}: model.vocab["${token}"] is ${JSON.stringify(id)}, not a token id`);
    map.set(token, id as number);
  }
  return map;
}

function readAddedTokens(list: unknown, file: string): Map<string, AddedToken> {
  const added = new Map<string, AddedToken>();
  if (list === undefined || list === null) return added;
  if (!Array.isArray(list)) throw new InputError(`${file}: added_tokens is not a list`);
  list.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || typeof entry.content !== "string" || !Number.isSafeInteger(entry.id)) {
      throw new InputError(`${file}: added_tokens[${i}] needs an integer id and a string content`);
    }
    const special = entry.special === true;
    added.set(entry.content, {
      id: entry.id as number,
      content: entry.content,
      single_word: entry.single_word === true,
      lstrip: entry.lstrip === true,
      rstrip: entry.rstrip === true,
      normalized: typeof entry.normalized === "boolean" ? entry.normalized : !special,
      special,
    });
  });
  return added;
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
