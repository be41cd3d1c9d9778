import { basename, extname } from "node:path";
import { InputError } from "../errors.ts";
import { toLanguageId } from "./languages.ts";
import { readRows } from "./read.ts";
import { detectSchema, SCHEMAS } from "./registry.ts";
import type { RawRows } from "./rows.ts";
import type { DatasetKind, LanguageId, LoadedDataset, RowProblem, Sample } from "./types.ts";

export { STUDY_LANGUAGES, languageName, toLanguageId } from "./languages.ts";
export type { DatasetKind, LanguageId, LoadedDataset, RowProblem, Sample } from "./types.ts";

export interface LoadOptions {
  /** The schema; inferred from the first row's fields when not given. */
  kind?: DatasetKind;
  /** Keep only these languages (any spelling toLanguageId accepts: "ar", "arb", "Arabic"). */
  languages?: readonly string[];
  /** Make the first bad row fatal (an InputError naming file and line). */
  strict?: boolean;
  /** Dataset name in samples (default: the file name without extension). */
  name?: string;
}

/**
 * Loads an Aya Red-teaming or Dolly-200 file (JSONL, CSV, Parquet). Bad rows are skipped and returned as problems
 * with file and line. InputError: missing or unreadable file, unknown format or schema, no rows, an unknown
 * language in `languages`, or (strict) the first bad row.
 */
export async function loadDataset(file: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  if (options.languages) languageFilter(options.languages); // a bad filter fails before any reading
  return toSamples(file, await readRows(file), options);
}

/** Applies the schema to raw rows: the pure half of loadDataset (`file` only names the rows in messages). */
export function toSamples(file: string, raw: RawRows, options: LoadOptions = {}): LoadedDataset {
  const wanted = options.languages && languageFilter(options.languages);
  const first = raw.rows[0]?.row;
  if (!first && raw.problems.length === 0) throw new InputError(`${file}: no rows`);
  const schema = options.kind ? SCHEMAS[options.kind] : first && detectSchema(first);
  if (first && !schema) {
    throw new InputError(`${file}: neither the Aya Red-teaming schema (prompt, language, harm_category…) nor Dolly-200 (inputs, targets, language…)`);
  }
  const name = options.name ?? basename(file, extname(file));
  const samples: Sample[] = [];
  const problems: RowProblem[] = [...raw.problems];
  if (schema) {
    for (const { line, row } of raw.rows) {
      const language = toLanguageId(row[schema.languageField]);
      if (wanted && language && !wanted.has(language)) continue; // another language: not even checked
      const sample = schema.parse(row, line, name);
      if (typeof sample === "string") problems.push({ file, line, message: sample });
      else samples.push(sample);
    }
  }
  problems.sort((a, b) => a.line - b.line);
  const firstProblem = problems[0];
  if (options.strict && firstProblem) throw new InputError(`${firstProblem.file}:${firstProblem.line}: ${firstProblem.message}`);
  return { samples, problems };
}

function languageFilter(languages: readonly string[]): Set<LanguageId> {
  return new Set(
    languages.map((l) => {
      const id = toLanguageId(l);
      if (!id) throw new InputError(`unknown language "${l}" in the language filter (use a code or name such as en, hin, Arabic)`);
      return id;
    }),
  );
}
