import { open, rm } from "node:fs/promises";
import { Checkpoint } from "../src/merge/safetensors/checkpoint.ts";

/**
 * The I/O floor of a merge: read every input byte and write one output of the merge's size, with no math.
 * - "tensor": as the merge reads, tensor by tensor at their offsets, the inputs of one tensor read concurrently
 *   into reused buffers, each tensor's output written before the next is read.
 * - "sequential": each input file read front to back in big chunks into one reused buffer, then the output
 *   written front to back.
 * The output file is deleted at the end (so its dirty pages never reach the disk, as with the merges).
 */
export type FloorMode = "tensor" | "sequential";

export const FLOOR_MODES: readonly FloorMode[] = ["tensor", "sequential"];

const CHUNK = 16 * 1024 * 1024;

export async function runFloor(mode: FloorMode, modelDirs: readonly string[], outFile: string, outBytes: number): Promise<void> {
  try {
    if (mode === "tensor") await tensorFloor(modelDirs, outFile, outBytes);
    else await sequentialFloor(modelDirs, outFile, outBytes);
  } finally {
    await rm(outFile, { force: true });
  }
}

async function tensorFloor(modelDirs: readonly string[], outFile: string, outBytes: number): Promise<void> {
  const checkpoints = await Promise.all(modelDirs.map((dir) => Checkpoint.open(dir)));
  const out = await open(outFile, "w");
  try {
    const first = checkpoints[0]!;
    const names = [...first.tensors.values()].sort((a, b) => a.offset - b.offset).map((e) => e.name);
    const largest = Math.max(...checkpoints.flatMap((c) => [...c.tensors.values()].map((e) => e.byteLength)));
    const buffers = checkpoints.map(() => new Uint8Array(largest));
    const headerBytes = outBytes - [...first.tensors.values()].reduce((s, e) => s + e.byteLength, 0);
    let position = 0;
    if (headerBytes > 0) position = await writeAll(out, new Uint8Array(headerBytes), 0);
    for (const name of names) {
      const entries = checkpoints.map((c) => c.get(name)!);
      await Promise.all(entries.map((e, i) => checkpoints[i]!.readInto(e, buffers[i]!.subarray(0, e.byteLength))));
      position += await writeAll(out, buffers[0]!.subarray(0, entries[0]!.byteLength), position);
    }
  } finally {
    await out.close();
    await Promise.all(checkpoints.map((c) => c.close()));
  }
}

async function sequentialFloor(modelDirs: readonly string[], outFile: string, outBytes: number): Promise<void> {
  const buffer = new Uint8Array(CHUNK);
  for (const dir of modelDirs) {
    const handle = await open(`${dir}/model.safetensors`, "r");
    try {
      let position = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
        if (bytesRead === 0) break;
        position += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }
  const out = await open(outFile, "w");
  try {
    for (let position = 0; position < outBytes; ) {
      position += await writeAll(out, buffer.subarray(0, Math.min(CHUNK, outBytes - position)), position);
    }
  } finally {
    await out.close();
  }
}

async function writeAll(handle: Awaited<ReturnType<typeof open>>, bytes: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
  return done;
}
