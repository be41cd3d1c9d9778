import { InputError } from "../../errors.ts";
import type { ConfigPath } from "../../util/yaml-config.ts";
import type { MergeConfig } from "../config.ts";

/**
 * A recipe's tokenizer settings, as mergekit reads them (mergekit/config.py and mergekit/tokenizer/config.py):
 * `tokenizer_source: base | union | <model>`, or the `tokenizer:` block with `source` (default `union`), `tokens`
 * and `pad_to_multiple_of`, never both. Without either, nothing is re-mapped (embeddings of different sizes are
 * cut, as before).
 */

export type TokenizerSource = { kind: "base" } | { kind: "union" } | { kind: "model"; ref: string };

/** Where a token's embedding row comes from (mergekit's TokenEmbeddingConfig.source). */
export type EmbeddingSource =
  | { kind: "model"; ref: string }
  | { kind: "model_token"; ref: string; token: string; tokenId?: undefined }
  | { kind: "model_token"; ref: string; tokenId: number; token?: undefined }
  | { kind: "zero" };

export interface TokenSetting {
  token: string;
  source: EmbeddingSource;
  /** Use the source even for models that have the token. */
  force: boolean;
  /** `file:line: tokenizer.tokens.<token>`, for messages. */
  where: string;
}

export interface TokenizerSettings {
  source: TokenizerSource;
  /** The `tokens:` entries in recipe order: each is added to the vocabulary if missing. */
  tokens: TokenSetting[];
  /** Rows are padded (with each model's mean row) to a multiple of this; undefined or 0: no padding. */
  padToMultipleOf?: number;
  /** `file:line: tokenizer_source` or `file:line: tokenizer`, for messages. */
  where: string;
}

type LineOf = (path: ConfigPath) => number | undefined;

/** Reads and checks the tokenizer keys of a parsed recipe; undefined when it sets neither. */
export function tokenizerSettings(config: MergeConfig, lineOf: LineOf, file: string): TokenizerSettings | undefined {
  const at = (path: ConfigPath) => {
    const line = lineOf(path);
    return `${file}${line ? `:${line}` : ""}: ${path.join(".")}`;
  };
  const block = config.tokenizer;
  if (config.tokenizer_source !== undefined && block !== undefined) {
    // mergekit's own message (MergeConfiguration.validate_tokenizer).
    throw new InputError(`${at(["tokenizer"])}: Cannot specify both tokenizer_source and tokenizer (give the source as tokenizer.source)`);
  }
  if (config.tokenizer_source !== undefined) {
    return { source: parseSource(config.tokenizer_source), tokens: [], where: at(["tokenizer_source"]) };
  }
  if (block === undefined) return undefined;
  const tokens: TokenSetting[] = [];
  for (const [token, setting] of Object.entries(block.tokens ?? {})) {
    const path = ["tokenizer", "tokens", token];
    const where = at(path);
    const source = setting.source;
    if (source === undefined || source === null) {
      // mergekit takes the entry, then fails on it while merging (NotImplementedError in compute_default_embedding).
      throw new InputError(
        `${where}: no source — give one (a model of the merge, {kind: model_token, model, token | token_id} or {kind: zero}); ` +
          "mergekit accepts an entry without a source and then fails on it mid-merge",
      );
    }
    let parsed: EmbeddingSource;
    if (typeof source === "string") parsed = { kind: "model", ref: source };
    else if (source.kind === "zero") parsed = { kind: "zero" };
    else {
      const hasId = source.token_id !== undefined && source.token_id !== null;
      const hasToken = source.token !== undefined && source.token !== null;
      // mergekit's messages (ModelTokenEmbedding.validate_token).
      if (hasId && hasToken) throw new InputError(`${at([...path, "source"])}: only one of token_id or token may be specified`);
      if (hasId) parsed = { kind: "model_token", ref: source.model, tokenId: source.token_id! };
      else if (hasToken) parsed = { kind: "model_token", ref: source.model, token: source.token! };
      else throw new InputError(`${at([...path, "source"])}: token_id or token must be specified`);
    }
    tokens.push({ token, source: parsed, force: setting.force ?? false, where });
  }
  const pad = block.pad_to_multiple_of ?? undefined;
  return {
    source: parseSource(block.source ?? "union"),
    tokens,
    ...(pad ? { padToMultipleOf: pad } : {}),
    where: at(["tokenizer"]),
  };
}

function parseSource(value: string): TokenizerSource {
  if (value === "base") return { kind: "base" };
  if (value === "union") return { kind: "union" };
  return { kind: "model", ref: value };
}

/** The model references the settings name, with where each is named (checked against the merge's models). */
export function referencedModels(settings: TokenizerSettings): { ref: string; where: string }[] {
  return settings.tokens.flatMap((t) => (t.source.kind === "model" || t.source.kind === "model_token" ? [{ ref: t.source.ref, where: t.where }] : []));
}
