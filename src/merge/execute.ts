import { InProcessRunner, WorkerPool, type JobRunner } from "./job-runners.ts";
import { jobBytes, toJob, type MergeJob } from "./job.ts";
import type { MergePlan } from "./plan.ts";
import type { ShardWriter } from "./safetensors/writer.ts";

export interface ExecuteOptions {
  seed: number;
  allowNonfinite: boolean;
  /** Worker threads for the math; 1 runs everything on this thread. */
  threads: number;
  /** Merges smaller than this (output bytes) stay on this thread: starting workers would cost more. */
  parallelMinBytes: number;
  /** Jobs may overlap while their float32 inputs fit in this many bytes, or in the largest single job's. */
  overlapBytes: number;
  onTensor?: (job: MergeJob) => void;
}

/**
 * Streams the plan: jobs run a few at a time (reads, math) and their outputs are written strictly in plan
 * order. Jobs in flight never hold more float32 bytes than the largest single job needs (or `overlapBytes`),
 * so overlapping work never raises the peak memory above what merging that one tensor takes.
 */
export async function executePlan(plan: MergePlan, writer: ShardWriter, options: ExecuteOptions): Promise<void> {
  const jobs = plan.tasks.map((task, i) => toJob(plan, task, i, options.seed, options.allowNonfinite));
  const budget = jobs.reduce((max, job) => Math.max(max, jobBytes(job)), options.overlapBytes);
  const outputBytes = writer.shards.reduce((sum, s) => sum + s.bytes, 0);
  const runner: JobRunner =
    options.threads > 1 && outputBytes >= options.parallelMinBytes ? new WorkerPool(options.threads) : new InProcessRunner();
  const inFlight = new Map<number, Promise<void>>();
  const done = new Map<number, Uint8Array>();
  let failure: unknown;
  let heldBytes = 0;
  let next = 0;
  let written = 0;
  try {
    while (written < jobs.length) {
      while (
        failure === undefined &&
        next < jobs.length &&
        inFlight.size < runner.concurrency &&
        (heldBytes === 0 || heldBytes + jobBytes(jobs[next]!) <= budget)
      ) {
        const job = jobs[next++]!;
        heldBytes += jobBytes(job);
        const running = runner.run(job).then(
          (bytes) => void done.set(job.index, bytes),
          (err: unknown) => void (failure ??= err),
        );
        inFlight.set(job.index, running.finally(() => inFlight.delete(job.index)));
      }
      if (failure !== undefined) throw failure;
      const ready = done.get(written);
      if (!ready) {
        await Promise.race(inFlight.values());
        continue;
      }
      done.delete(written);
      const job = jobs[written]!;
      await writer.write(job.name, ready);
      heldBytes -= jobBytes(job);
      written++;
      options.onTensor?.(job);
    }
  } finally {
    await Promise.allSettled(inFlight.values());
    await runner.close();
  }
}
