import { open, type FileHandle } from "node:fs/promises";
import { InputError } from "../../errors.ts";
import { applyLoraPatch, loraPatchOf } from "../lora-apply.ts";
import { readRemapped, vocabRemapOf } from "../tokenizer/remap-read.ts";
import type { TensorEntry } from "./header.ts";

/** Reads more than this in several calls: one read(2) is capped near 2 GiB. */
const MAX_READ_CHUNK = 1 << 30;

const PLAIN_KEYS = new Set(["name", "file", "dtype", "shape", "offset", "byteLength"]);

/**
 * An entry read as stored, with nothing applied at read time (no LoRA patch or other rewrite riding on it):
 * any part of it can be read on its own.
 */
export function isPlainEntry(entry: TensorEntry): boolean {
  return Object.keys(entry).every((k) => PLAIN_KEYS.has(k));
}

/** Reads tensors by offset from any number of safetensors files, keeping one open handle per file. */
export class TensorReader {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  /** Reads the raw bytes of `entry` into `target` (exactly entry.byteLength bytes long). */
  async readInto(entry: TensorEntry, target: Uint8Array): Promise<void> {
    if (target.byteLength !== entry.byteLength) throw new Error(`readInto: buffer of ${target.byteLength} bytes for ${entry.byteLength}`);
    // An embedding re-mapped to a merged vocabulary (tokenizer_source / tokenizer:): gathered from its model's rows.
    const remap = vocabRemapOf(entry);
    if (remap) return readRemapped(entry, remap, target, this);
    const handle = await this.handle(entry.file);
    let done = 0;
    while (done < entry.byteLength) {
      const length = Math.min(MAX_READ_CHUNK, entry.byteLength - done);
      const { bytesRead } = await handle.read(target, done, length, entry.offset + done);
      if (bytesRead === 0) {
        throw new InputError(`${entry.file}: tensor "${entry.name}": file ends before its data (truncated?)`);
      }
      done += bytesRead;
    }
    // A tensor of a `model+adapter` reference: its bytes become those of W + scale·B·A (see lora-apply.ts).
    const lora = loraPatchOf(entry);
    if (lora) await applyLoraPatch(entry, lora, target, this);
  }

  /**
   * Reads `target.byteLength` raw bytes of `entry` starting `start` bytes into its data: one chunk of a tensor.
   * Plain entries only: a LoRA patch (or any other rewrite) applies to the whole tensor (read those with readInto).
   */
  async readRange(entry: TensorEntry, start: number, target: Uint8Array): Promise<void> {
    if (!isPlainEntry(entry)) throw new Error(`readRange: tensor "${entry.name}" is rewritten as it is read; read it whole`);
    if (start < 0 || start + target.byteLength > entry.byteLength) {
      throw new Error(`readRange: bytes [${start}, ${start + target.byteLength}) outside the ${entry.byteLength} bytes of "${entry.name}"`);
    }
    const handle = await this.handle(entry.file);
    let done = 0;
    while (done < target.byteLength) {
      const length = Math.min(MAX_READ_CHUNK, target.byteLength - done);
      const { bytesRead } = await handle.read(target, done, length, entry.offset + start + done);
      if (bytesRead === 0) {
        throw new InputError(`${entry.file}: tensor "${entry.name}": file ends before its data (truncated?)`);
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(async (h) => (await h.catch(() => undefined))?.close()));
  }

  private handle(file: string): Promise<FileHandle> {
    let handle = this.handles.get(file);
    if (!handle) {
      handle = open(file, "r").catch((err: NodeJS.ErrnoException) => {
        throw new InputError(`${file}: cannot open (${err.code ?? err.message})`);
      });
      this.handles.set(file, handle);
    }
    return handle;
  }
}
