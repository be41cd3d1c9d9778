import { basename, extname } from "node:path";
import { InputError } from "../errors.ts";
import { ayaRedteamingSample } from "./aya-redteaming.ts";
import { dollySample } from "./dolly.ts";
import { toLanguageId } from "./languages.ts";
import { readRows, type Row } from "./rows.ts";
import type { DatasetKind, LanguageId, LoadedDataset, RowProblem, Sample } from "./types.ts";

export { STUDY_LANGUAGES, languageName, toLanguageId } from "./languages.ts";
export type { DatasetKind, LoadedDataset, RowProblem, Sample } from "./types.ts";

/** One parser per dataset schema; a new set is one file and one line here. */
const PARSERS: Record<DatasetKind, { parse: (row: Row, line: number, dataset: string) => Sample | string; looksLike: (row: Row) => boolean }> = {
  "aya-redteaming": { parse: ayaRedteamingSample, looksLike: (row) => "prompt" in row && ("harm_category" in row || "global_or_local" in row) },
  "dolly-200": { parse: dollySample, looksLike: (row) => "inputs" in row },
};

export interface LoadOptions {
  kind?: DatasetKind;
  /** Keep only these languages (any spelling toLanguageId accepts). */
  languages?: readonly string[];
  /** Make the first bad row fatal. */
  strict?: boolean;
  /** Dataset name in samples (default: the file name without extension). */
  name?: string;
}

/** Loads an Aya Red-teaming or Dolly-200 file (JSONL, CSV, Parquet); bad rows are reported with file and line. */
export async function loadDataset(file: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const { rows, problems } = await readRows(file);
  const kind = options.kind ?? detectKind(file, rows.map((r) => r.row));
  const { parse } = PARSERS[kind];
  const name = options.name ?? basename(file, extname(file));
  const wanted = options.languages && new Set(options.languages.map((l) => toLanguageId(l) ?? unknownLanguage(l)));
  const samples: Sample[] = [];
  const all: RowProblem[] = [...problems];
  for (const { line, row } of rows) {
    const sample = parse(row, line, name);
    if (typeof sample === "string") all.push({ file, line, message: sample });
    else if (!wanted || wanted.has(sample.language)) samples.push(sample);
  }
  all.sort((a, b) => a.line - b.line);
  if (options.strict && all.length > 0) throw new InputError(`${all[0]!.file}:${all[0]!.line}: ${all[0]!.message}`);
  return { samples, problems: all };
}

function detectKind(file: string, rows: Row[]): DatasetKind {
  const first = rows[0];
  const kind = first && (Object.keys(PARSERS) as DatasetKind[]).find((k) => PARSERS[k].looksLike(first));
  if (!kind) throw new InputError(`${file}: neither the Aya Red-teaming schema (prompt, harm_category…) nor Dolly-200 (inputs, targets…)`);
  return kind;
}

function unknownLanguage(value: string): LanguageId {
  throw new InputError(`unknown language "${value}"`);
}
