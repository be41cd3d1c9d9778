import { existsSync } from "node:fs";
import { mkdir, open, readFile, rm, truncate, writeFile, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { InputError } from "../errors.ts";
import { isAlive, ownIdentity, type ProcessIdentity } from "../util/process.ts";

/**
 * An append-only JSONL file of records keyed by `key`, which is also the cache: a record with status "done"
 * is never produced again, an "error" record is (errors are recorded, never cached). Each record is one
 * write(2) of a whole line as soon as it exists, so a killed run keeps everything it finished; a line torn by
 * the kill is cut off on the next open, not fatal.
 */
export interface StoredRecord {
  key: string;
  status: "done" | "error";
}

export interface OpenedStore<R extends StoredRecord> {
  store: RecordStore<R>;
  /** Done records by key (the last one wins). */
  done: Map<string, R>;
  /** Bytes of a torn last line that were cut off, if any. */
  repairedBytes: number;
  /** Lines that are not valid records (kept in the file, ignored). */
  badLines: number[];
}

export class RecordStore<R extends StoredRecord> {
  private pending: { line: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly lockFile: string,
  ) {}

  static async open<R extends StoredRecord>(file: string): Promise<OpenedStore<R>> {
    await mkdir(dirname(file), { recursive: true });
    const lockFile = `${file}.lock`;
    await takeLock(lockFile, file);
    try {
      const { done, repairedBytes, badLines } = await readRecords<R>(file);
      const handle = await open(file, "a");
      return { store: new RecordStore<R>(file, handle, lockFile), done, repairedBytes, badLines };
    } catch (err) {
      await rm(lockFile, { force: true });
      throw err;
    }
  }

  /**
   * Appends one record, resolving once its line is written. Lines that arrive while a write is in flight go
   * out together in the next one (group commit): one write(2) per batch, never a partial interleaving.
   */
  append(record: R): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line: JSON.stringify(record) + "\n", resolve, reject });
      this.writing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.handle.appendFile(batch.map((p) => p.line).join(""));
        batch.forEach((p) => p.resolve());
      } catch (err) {
        batch.forEach((p) => p.reject(err));
      }
    }
    this.writing = undefined;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.handle.sync().catch(() => undefined);
    await this.handle.close();
    await rm(this.lockFile, { force: true });
  }
}

async function readRecords<R extends StoredRecord>(file: string): Promise<{ done: Map<string, R>; repairedBytes: number; badLines: number[] }> {
  const done = new Map<string, R>();
  const badLines: number[] = [];
  if (!existsSync(file)) return { done, repairedBytes: 0, badLines };
  const text = await readFile(file, "utf8");
  let usable = text.length;
  let repairedBytes = 0;
  if (text.length > 0 && !text.endsWith("\n")) {
    usable = text.lastIndexOf("\n") + 1; // the last line was torn by a kill mid-write
    repairedBytes = Buffer.byteLength(text.slice(usable));
    await truncate(file, Buffer.byteLength(text.slice(0, usable)));
  }
  const lines = text.slice(0, usable).split("\n");
  lines.forEach((line, i) => {
    if (line === "") return;
    let record: R;
    try {
      record = JSON.parse(line) as R;
    } catch {
      badLines.push(i + 1);
      return;
    }
    if (typeof record?.key !== "string") badLines.push(i + 1);
    else if (record.status === "done") done.set(record.key, record);
  });
  return { done, repairedBytes, badLines };
}

/**
 * One writer per store file: a second run on the same folder would duplicate work and interleave lines. The lock
 * file records its holder as JSON (pid, start time, boot id); a lock whose holder is gone, a zombie, or a later
 * process that reuses its pid is taken over.
 */
async function takeLock(lockFile: string, file: string): Promise<void> {
  const own = JSON.stringify(ownIdentity()) + "\n";
  try {
    await writeFile(lockFile, own, { flag: "wx" });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const holder = parseHolder(await readFile(lockFile, "utf8").catch(() => ""));
  if (holder && holder.pid !== process.pid && isAlive(holder)) {
    throw new InputError(`${file} is in use by another mergeval run (pid ${holder.pid}); wait for it or remove ${lockFile}`);
  }
  await writeFile(lockFile, own); // the holder died without cleaning up: take over
}

/** The holder a lock file names: JSON, or a bare pid as earlier versions wrote (checked by pid alone). */
function parseHolder(text: string): ProcessIdentity | undefined {
  if (/^\s*\d+\s*$/.test(text)) return { pid: Number(text) };
  try {
    const { pid, start, boot } = JSON.parse(text) as Record<string, unknown>;
    if (typeof pid !== "number") return undefined;
    return { pid, start: typeof start === "number" ? start : undefined, boot: typeof boot === "string" ? boot : undefined };
  } catch {
    return undefined;
  }
}
