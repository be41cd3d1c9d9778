import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { InputError } from "../errors.ts";
import type { RowProblem } from "./types.ts";

export type Row = Record<string, unknown>;

export interface RawRows {
  rows: { line: number; row: Row }[];
  problems: RowProblem[];
}

/** The rows of a JSONL, CSV or Parquet file, each with its 1-based line (or row) number. */
export async function readRows(file: string): Promise<RawRows> {
  const ext = extname(file).toLowerCase();
  try {
    if (ext === ".parquet") return await parquetRows(file);
    const text = await readFile(file, "utf8");
    if (ext === ".csv") return csvRows(file, text);
    if (ext === ".jsonl" || ext === ".json" || ext === ".ndjson") return jsonlRows(file, text);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  throw new InputError(`${file}: unknown dataset format "${ext}" (use .jsonl, .csv or .parquet)`);
}

export function jsonlRows(file: string, text: string): RawRows {
  const rows: RawRows["rows"] = [];
  const problems: RowProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    try {
      const row = JSON.parse(line) as unknown;
      if (typeof row !== "object" || row === null || Array.isArray(row)) problems.push({ file, line: i + 1, message: "not a JSON object" });
      else rows.push({ line: i + 1, row: row as Row });
    } catch (err) {
      problems.push({ file, line: i + 1, message: `invalid JSON (${(err as Error).message})` });
    }
  });
  return { rows, problems };
}

export function csvRows(file: string, text: string): RawRows {
  let records: { record: Row; info: { lines: number } }[];
  try {
    records = parseCsv(text, { columns: true, skip_empty_lines: true, info: true, bom: true }) as typeof records;
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new InputError(`${file}${line ? `:${line}` : ""}: invalid CSV (${(err as Error).message})`);
  }
  return { rows: records.map(({ record, info }) => ({ line: info.lines, row: record })), problems: [] };
}

async function parquetRows(file: string): Promise<RawRows> {
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Row[];
  return { rows: rows.map((row, i) => ({ line: i + 1, row })), problems: [] };
}
