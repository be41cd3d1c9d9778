import { open, type FileHandle } from "node:fs/promises";
import { InputError } from "../../errors.ts";
import { applyLoraPatch, loraPatchOf } from "../lora-apply.ts";
import { readRemapped, vocabRemapOf } from "../tokenizer/remap-read.ts";
import type { TensorEntry } from "./header.ts";

/** Reads more than this in several calls: one read(2) is capped near 2 GiB. */
const MAX_READ_CHUNK = 1 << 30;

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
