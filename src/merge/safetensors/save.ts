import { mkdir } from "node:fs/promises";
import { encodeInPlace, type FloatDtype } from "./dtype.ts";
import { planShards, ShardWriter } from "./writer.ts";

export interface TensorToSave {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  values: Float32Array;
}

/** Writes whole tensors as a (possibly sharded) safetensors checkpoint. For small checkpoints: fixtures, tests. */
export async function saveCheckpoint(dir: string, tensors: readonly TensorToSave[], maxShardBytes = Number.MAX_SAFE_INTEGER): Promise<void> {
  await mkdir(dir, { recursive: true });
  const writer = new ShardWriter(dir, planShards(tensors, maxShardBytes));
  try {
    for (const t of tensors) await writer.write(t.name, encodeInPlace(t.values.slice(), t.dtype));
    await writer.finish();
  } finally {
    await writer.abort();
  }
}
