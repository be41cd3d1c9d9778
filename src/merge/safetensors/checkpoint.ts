import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { InputError } from "../../errors.ts";
import { readSafetensorsHeader, type TensorEntry } from "./header.ts";
import { TensorReader } from "./tensor-reader.ts";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";

/**
 * A Hugging Face checkpoint folder in safetensors: single-file or sharded. Headers are read once;
 * tensor data is read one tensor at a time, by offset, into a buffer the caller owns.
 */
export class Checkpoint {
  private readonly reader = new TensorReader();

  private constructor(
    readonly dir: string,
    readonly tensors: ReadonlyMap<string, TensorEntry>,
  ) {}

  static async open(dir: string): Promise<Checkpoint> {
    const indexPath = join(dir, INDEX_FILE);
    const singlePath = join(dir, SINGLE_FILE);
    const tensors = new Map<string, TensorEntry>();
    if (existsSync(indexPath)) {
      const weightMap = await readWeightMap(indexPath);
      const byShard = new Map<string, string[]>();
      for (const [name, shard] of Object.entries(weightMap)) {
        byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
      }
      for (const [shard, names] of byShard) {
        const header = await readSafetensorsHeader(join(dir, shard));
        const inShard = new Map(header.tensors.map((t) => [t.name, t]));
        for (const name of names) {
          const entry = inShard.get(name);
          if (!entry) throw new InputError(`${indexPath}: weight_map puts "${name}" in ${shard}, but ${shard} has no such tensor`);
          tensors.set(name, entry);
        }
      }
    } else if (existsSync(singlePath)) {
      for (const entry of (await readSafetensorsHeader(singlePath)).tensors) tensors.set(entry.name, entry);
    } else {
      const found = existsSync(dir) ? (await readdir(dir)).join(", ") || "nothing" : undefined;
      if (found === undefined) throw new InputError(`model folder ${dir} does not exist`);
      throw new InputError(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} (found: ${found}); only safetensors checkpoints are supported`);
    }
    return new Checkpoint(dir, tensors);
  }

  /**
   * The same checkpoint with some entries replaced, reading through a reader of its own. A LoRA reference
   * (`model+adapter`, lora.ts) uses it to hand out entries that carry the adapter's patch.
   */
  withEntries(replaced: ReadonlyMap<string, TensorEntry>): Checkpoint {
    const tensors = new Map(this.tensors);
    for (const [name, entry] of replaced) tensors.set(name, entry);
    return new Checkpoint(this.dir, tensors);
  }

  get(name: string): TensorEntry | undefined {
    return this.tensors.get(name);
  }

  /** Reads the raw bytes of `entry` into `target` (exactly entry.byteLength bytes long). */
  readInto(entry: TensorEntry, target: Uint8Array): Promise<void> {
    return this.reader.readInto(entry, target);
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

async function readWeightMap(indexPath: string): Promise<Record<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(indexPath, "utf8"));
  } catch (err) {
    throw new InputError(`${indexPath}: not valid JSON (${(err as Error).message})`);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new InputError(`${indexPath}: no "weight_map" object`);
  }
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string" || basename(shard) !== shard) {
      throw new InputError(`${indexPath}: weight_map entry "${name}" → ${JSON.stringify(shard)} is not a file name in the folder`);
    }
  }
  return weightMap as Record<string, string>;
}
