import { open, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { DTYPE_BYTES, type FloatDtype } from "./dtype.ts";
import { INDEX_FILE, SINGLE_FILE } from "./checkpoint.ts";
import { numelOf } from "./header.ts";

export interface PlannedTensor {
  name: string;
  dtype: FloatDtype;
  shape: number[];
}

export interface Shard {
  file: string;
  tensors: PlannedTensor[];
  bytes: number;
}

export function tensorBytes(t: PlannedTensor): number {
  return numelOf(t.shape) * DTYPE_BYTES[t.dtype]!;
}

/**
 * mergekit's greedy byte-based sharding: a tensor starts a new shard when the current one is non-empty
 * and would grow past `maxShardBytes`. One shard is `model.safetensors`; more are `model-0000i-of-0000N`.
 */
export function planShards(tensors: readonly PlannedTensor[], maxShardBytes: number): Shard[] {
  const groups: { tensors: PlannedTensor[]; bytes: number }[] = [];
  let current: { tensors: PlannedTensor[]; bytes: number } | undefined;
  for (const t of tensors) {
    const size = tensorBytes(t);
    if (!current || (current.tensors.length > 0 && current.bytes + size > maxShardBytes)) {
      current = { tensors: [], bytes: 0 };
      groups.push(current);
    }
    current.tensors.push(t);
    current.bytes += size;
  }
  const n = groups.length;
  const pad = (i: number) => String(i).padStart(5, "0");
  return groups.map((g, i) => ({ ...g, file: n === 1 ? SINGLE_FILE : `model-${pad(i + 1)}-of-${pad(n)}.safetensors` }));
}

/** The safetensors header for a shard: `{"format":"pt"}` metadata, offsets in plan order, padded to 8 bytes. */
export function encodeHeader(tensors: readonly PlannedTensor[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const t of tensors) {
    const size = tensorBytes(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const out = Buffer.alloc(8 + Buffer.byteLength(json));
  out.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  out.write(json, 8, "utf8");
  return out;
}

/**
 * Writes a planned set of shards, tensor by tensor in plan order. Headers are known up front, so nothing is
 * buffered: each tensor's bytes go straight to disk.
 */
export class ShardWriter {
  private shardIndex = -1;
  private tensorIndex = 0;
  private handle: FileHandle | undefined;
  private position = 0;
  /** Bytes of the current tensor written so far by writePart. */
  private partial = 0;

  constructor(
    private readonly dir: string,
    readonly shards: readonly Shard[],
  ) {}

  async write(name: string, bytes: Uint8Array): Promise<void> {
    if (this.partial > 0) throw new Error(`writer: ${name} written whole while a tensor is written in parts`);
    await this.writePart(name, bytes);
    if (this.partial > 0) throw new Error(`writer: ${name} got ${bytes.byteLength} bytes, fewer than planned`);
  }

  /**
   * Writes the next `bytes` of tensor `name`, which the plan must have next; the tensor is complete once its
   * parts add up to its planned size. Parts of one tensor arrive in order, and no other tensor starts before.
   */
  async writePart(name: string, bytes: Uint8Array): Promise<void> {
    let shard = this.shards[this.shardIndex];
    if (!shard || this.tensorIndex >= shard.tensors.length) {
      await this.nextShard();
      shard = this.shards[this.shardIndex]!;
    }
    const planned = shard.tensors[this.tensorIndex]!;
    const size = tensorBytes(planned);
    if (planned.name !== name || this.partial + bytes.byteLength > size) {
      throw new Error(`writer: expected ${planned.name} (${size - this.partial} more bytes), got ${name} (${bytes.byteLength} bytes)`);
    }
    await writeAll(this.handle!, bytes, this.position);
    this.position += bytes.byteLength;
    this.partial += bytes.byteLength;
    if (this.partial === size) {
      this.partial = 0;
      this.tensorIndex++;
    }
  }

  /** Closes the last shard and writes the index when there is more than one shard. */
  async finish(extraMetadata: Record<string, string> = {}): Promise<void> {
    while (this.shardIndex < this.shards.length - 1) await this.nextShard(); // shards of only empty plans
    await this.handle?.close();
    this.handle = undefined;
    if (this.shards.length > 1) {
      const weightMap: Record<string, string> = {};
      let totalSize = 0;
      for (const shard of this.shards) {
        for (const t of shard.tensors) weightMap[t.name] = shard.file;
        totalSize += shard.bytes;
      }
      const index = { metadata: { total_size: totalSize, ...extraMetadata }, weight_map: weightMap };
      await writeFile(join(this.dir, INDEX_FILE), JSON.stringify(index, null, 2) + "\n");
    }
  }

  async abort(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }

  private async nextShard(): Promise<void> {
    const current = this.shards[this.shardIndex];
    if (current && this.tensorIndex < current.tensors.length) {
      throw new Error(`writer: shard ${current.file} is missing ${current.tensors[this.tensorIndex]!.name}`);
    }
    await this.handle?.close();
    this.shardIndex++;
    this.tensorIndex = 0;
    const shard = this.shards[this.shardIndex];
    if (!shard) throw new Error("writer: more tensors than planned");
    this.handle = await open(join(this.dir, shard.file), "w");
    const header = encodeHeader(shard.tensors);
    await writeAll(this.handle, header, 0);
    this.position = header.byteLength;
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(1 << 30, bytes.byteLength - done), position + done);
    done += bytesWritten;
  }
}
