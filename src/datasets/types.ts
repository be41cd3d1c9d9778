/** Language ids used everywhere in mergeval: ISO 639-1 where one exists (en hi fr es ar ru …). */
export type LanguageId = string;

export type DatasetKind = "aya-redteaming" | "dolly-200";

/** One prompt of an evaluation set, in one language. */
export interface Sample {
  /** Dataset name: the file name without extension unless configured otherwise. */
  dataset: string;
  kind: DatasetKind;
  /** Stable within (dataset, language): the row's own id, else its line/row number. */
  id: string;
  /** Shared by the translations of one prompt across languages (Dolly `source_id`, parallel red-team sets). */
  sourceId?: string;
  language: LanguageId;
  prompt: string;
  /** Reference answer where the set has one (Dolly `targets`). */
  reference?: string;
  /** The set's other fields, parsed (e.g. harm_category as a list). */
  meta: Record<string, unknown>;
}

/** A row that could not be used, with where it is. */
export interface RowProblem {
  file: string;
  /** 1-based line (JSONL, CSV) or row (Parquet). */
  line: number;
  message: string;
}

export interface LoadedDataset {
  samples: Sample[];
  problems: RowProblem[];
}
