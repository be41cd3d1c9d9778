import { parse as parseCsv } from "csv-parse/sync";
import { InputError } from "../errors.ts";
import type { RowProblem } from "./types.ts";

/** One record of a dataset file, field name → value, before any schema is applied. */
export type Row = Record<string, unknown>;

/** The records of a file, each with its 1-based line (JSONL, CSV) or row (Parquet), and the ones that failed. */
export interface RawRows {
  rows: { line: number; row: Row }[];
  problems: RowProblem[];
}

/** JSON Lines: one object per line; blank lines are skipped, a line that is not a JSON object is a problem. */
export function jsonlRows(file: string, text: string): RawRows {
  const rows: RawRows["rows"] = [];
  const problems: RowProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const source = raw.trim(); // also drops \r and a byte-order mark
    if (source === "") return;
    let row: unknown;
    try {
      row = JSON.parse(source);
    } catch (err) {
      problems.push({ file, line: i + 1, message: `invalid JSON (${(err as Error).message})` });
      return;
    }
    if (typeof row === "object" && row !== null && !Array.isArray(row)) rows.push({ line: i + 1, row: row as Row });
    else problems.push({ file, line: i + 1, message: "not a JSON object" });
  });
  return { rows, problems };
}

interface CsvRecord {
  record: Row;
  info: { lines: number };
  raw: string;
}

/**
 * CSV with a header row. A record with the wrong number of fields or an unclosed quote is a problem at the line
 * where the record starts; a header that cannot be read makes the whole file an InputError.
 */
export function csvRows(file: string, text: string): RawRows {
  const problems: RowProblem[] = [];
  let records: CsvRecord[];
  try {
    records = parseCsv(text, {
      columns: true,
      bom: true,
      info: true,
      raw: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err, raw) => {
        if (!err) return;
        const unclosed = err.code === "CSV_QUOTE_NOT_CLOSED"; // the final newline belongs to the open field
        problems.push({ file, line: recordStart(Number(err.lines), raw ?? "", unclosed), message: `invalid CSV record (${err.message})` });
      },
    }) as CsvRecord[];
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new InputError(`${file}${line ? `:${line}` : ""}: invalid CSV (${(err as Error).message})`);
  }
  const rows = records.map(({ record, info, raw }) => ({ line: recordStart(info.lines, raw, false), row: record }));
  return { rows, problems };
}

/** csv-parse counts lines up to a record's end; a quoted field can span lines, so step back to its first line. */
function recordStart(endLine: number, raw: string, keepLastNewline: boolean): number {
  let body = raw.replace(/^(?:\r?\n)+/, ""); // blank lines skipped before the record
  if (!keepLastNewline) body = body.replace(/\r?\n$/, "");
  return endLine - (body.match(/\n/g)?.length ?? 0);
}

/**
 * Parquet rows as hyparquet decodes them, numbered from 1. INT64 columns come back as BigInt: they become numbers
 * when exact (ids are stringified later), else strings, so rows stay JSON-serialisable.
 */
export function objectRows(objects: readonly Row[]): RawRows {
  const rows = objects.map((object, i) => ({ line: i + 1, row: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, plain(v)])) }));
  return { rows, problems: [] };
}

function plain(value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}
