import { Arena, alignUp } from "./kernels/arena.ts";
import { InProcessRunner, WorkerPool, type PieceRunner } from "./job-runners.ts";
import { pieceRanges, pieceSlotBytes, toJob, type MergeJob, type Piece } from "./job.ts";
import type { MergePlan } from "./plan.ts";
import type { ShardWriter } from "./safetensors/writer.ts";

export interface ExecuteOptions {
  seed: number;
  allowNonfinite: boolean;
  /** Worker threads for the math; 1 runs everything on this thread. */
  threads: number;
  /** Merges smaller than this (output bytes) stay on this thread: starting workers would cost more. */
  parallelMinBytes: number;
  /**
   * Working memory for pieces in flight, at least: the largest single piece (a whole tensor's float32 inputs, for
   * methods that need whole tensors) is always allowed, so this only lets smaller pieces overlap more.
   */
  overlapBytes: number;
  /** Output entries per chunk for element-wise methods (default CHUNK_ELEMENTS, or $MERGEVAL_CHUNK_ELEMENTS). */
  chunkElements?: number;
  onTensor?: (job: MergeJob) => void;
}

/**
 * Output entries per chunk: 256K (1 MiB of float32 per input) keeps a chunk's inputs and output in the
 * core's cache between the read, the merge and the encode, while reads stay large (measured: npm run bench).
 */
export const CHUNK_ELEMENTS = 256 * 1024;

function chunkElementsDefault(): number {
  const fromEnv = Number(process.env.MERGEVAL_CHUNK_ELEMENTS);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : CHUNK_ELEMENTS;
}

interface PlannedPiece {
  job: MergeJob;
  whole: boolean;
  start: number;
  count: number;
  slotBytes: number[];
  bytes: number;
  /** The job's last piece: the tensor is complete once it is written. */
  last: boolean;
}

/**
 * Streams the plan as pieces: a chunk of a tensor for element-wise methods (linear, task arithmetic…), the whole
 * tensor for the others. Pieces run a few at a time (reads, math, encode) in one reused working memory, and
 * their outputs are written strictly in plan order; a piece's memory is reused once it is written. The memory
 * is the larger of the largest single piece and `overlapBytes`, so overlapping work never raises the peak
 * above what merging the largest tensor alone takes.
 */
export async function executePlan(plan: MergePlan, writer: ShardWriter, options: ExecuteOptions): Promise<void> {
  const chunkElements = options.chunkElements ?? chunkElementsDefault();
  const pieces: PlannedPiece[] = [];
  plan.tasks.forEach((task, i) => {
    const job = toJob(plan, task, i, options.seed, options.allowNonfinite);
    const ranges = pieceRanges(job, chunkElements);
    ranges.forEach(({ whole, start, count }, r) => {
      const slotBytes = pieceSlotBytes(job, whole, start, count);
      pieces.push({ job, whole, start, count, slotBytes, bytes: slotBytes.reduce((a, b) => a + b, 0), last: r === ranges.length - 1 });
    });
  });
  const largest = pieces.reduce((max, p) => Math.max(max, p.bytes), 0);
  const total = pieces.reduce((sum, p) => sum + p.bytes, 0);
  const memoryBytes = alignUp(Math.max(largest, Math.min(options.overlapBytes, total), 1));
  const outputBytes = writer.shards.reduce((sum, s) => sum + s.bytes, 0);
  const workers = options.threads > 1 && outputBytes >= options.parallelMinBytes ? options.threads : 0;
  const runner: PieceRunner = workers > 0 ? new WorkerPool(workers, memoryBytes) : new InProcessRunner(memoryBytes);
  const arena = new Arena(runner.memory, runner.ringStart, runner.ringBytes);

  // Launched pieces run (read, merge, encode) up to the runner's concurrency, in the memory the ring grants;
  // a chain writes their results in plan order and releases their memory, waking the launcher each time.
  const inFlight: Promise<Uint8Array>[] = [];
  let writes: Promise<void> = Promise.resolve();
  let running = 0;
  let failure: unknown;
  let wake = () => {};
  const changed = () => new Promise<void>((resolve) => (wake = resolve));
  const fail = (err: unknown) => {
    failure ??= err;
    wake();
  };

  try {
    for (const planned of pieces) {
      let offset: number | undefined;
      for (;;) {
        if (failure !== undefined) throw failure;
        if (running < runner.concurrency && (offset = arena.alloc(planned.bytes)) !== undefined) break;
        await changed();
      }
      const slots: number[] = [];
      let at = offset;
      for (const b of planned.slotBytes) {
        slots.push(at);
        at += b;
      }
      const piece: Piece = { job: planned.job, whole: planned.whole, start: planned.start, count: planned.count, offset, slots };
      const result = runner.run(piece);
      running++;
      inFlight.push(result);
      result.then(
        () => {
          running--;
          wake();
        },
        (err: unknown) => {
          running--;
          fail(err);
        },
      );
      const memory = offset;
      writes = writes.then(async () => {
        const bytes = await result;
        await writer.writePart(planned.job.name, bytes);
        arena.free(memory);
        inFlight.shift();
        if (planned.last) options.onTensor?.(planned.job);
        wake();
      });
      writes.catch(fail);
    }
    await writes;
    if (failure !== undefined) throw failure;
  } finally {
    await Promise.allSettled([...inFlight, writes]);
    await runner.close();
  }
}
