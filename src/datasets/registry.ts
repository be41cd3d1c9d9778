import { ayaRedteaming } from "./aya-redteaming.ts";
import { dolly200 } from "./dolly.ts";
import type { Row } from "./rows.ts";
import type { DatasetKind, Sample } from "./types.ts";

/** How one published schema maps its rows to Samples. A new set is one file and one line in SCHEMAS. */
export interface DatasetSchema {
  kind: DatasetKind;
  /** Field holding the language, read first so a language filter skips other languages' rows unparsed. */
  languageField: string;
  /** Whether a row has this schema's fields (used when the kind is not given). */
  looksLike(row: Row): boolean;
  /** The row as a Sample, or why it cannot be used. Pure: no I/O. */
  parse(row: Row, line: number, dataset: string): Sample | string;
}

export const SCHEMAS: Record<DatasetKind, DatasetSchema> = {
  "aya-redteaming": ayaRedteaming,
  "dolly-200": dolly200,
};

/** The schema whose fields the row has, if any. */
export function detectSchema(row: Row): DatasetSchema | undefined {
  return Object.values(SCHEMAS).find((schema) => schema.looksLike(row));
}
