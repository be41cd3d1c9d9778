import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { InputError } from "../errors.ts";
import { csvRows, jsonlRows, objectRows, type RawRows, type Row } from "./rows.ts";

const FORMATS = [".jsonl", ".ndjson", ".json", ".csv", ".parquet"];

/** The file I/O of the dataset stage: reads a JSONL, CSV or Parquet file (by extension) into raw rows. */
export async function readRows(file: string): Promise<RawRows> {
  const ext = extname(file).toLowerCase();
  if (!FORMATS.includes(ext)) throw new InputError(`${file}: unknown dataset format "${ext}" (use ${FORMATS.join(", ")})`);
  try {
    if (ext === ".parquet") return objectRows((await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Row[]);
    const text = await readFile(file, "utf8");
    return ext === ".csv" ? csvRows(file, text) : jsonlRows(file, text);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code ?? (err as Error).message;
    throw new InputError(`${file}: cannot read ${ext.slice(1)} (${reason})`);
  }
}
