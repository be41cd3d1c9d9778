import { Worker } from "node:worker_threads";
import { InputError } from "../errors.ts";
import { runJob, type MergeJob } from "./job.ts";
import { TensorReader } from "./safetensors/tensor-reader.ts";

/** Runs merge jobs, up to `concurrency` at a time. */
export interface JobRunner {
  concurrency: number;
  run(job: MergeJob): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Runs jobs on this thread. Two at a time still pays: one job's reads proceed in libuv's thread pool while
 * the other's math runs.
 */
export class InProcessRunner implements JobRunner {
  readonly concurrency = 2;
  private readonly reader = new TensorReader();

  run(job: MergeJob): Promise<Uint8Array> {
    return runJob(job, this.reader);
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

export interface WorkerReply {
  index: number;
  buffer?: ArrayBuffer;
  byteOffset?: number;
  byteLength?: number;
  error?: { message: string; input: boolean };
}

/** Runs jobs on worker threads, one job per worker at a time; outputs come back as transferred buffers. */
export class WorkerPool implements JobRunner {
  private readonly idle: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (bytes: Uint8Array) => void; reject: (err: Error) => void; worker: Worker }>();

  constructor(readonly concurrency: number) {
    for (let i = 0; i < concurrency; i++) {
      const worker = new Worker(new URL(import.meta.url.endsWith(".ts") ? "./worker-entry.mjs" : "./job-worker.js", import.meta.url));
      worker.on("message", (reply: WorkerReply) => this.settle(worker, reply));
      worker.on("error", (err) => this.failAll(worker, err));
      this.idle.push(worker);
    }
  }

  run(job: MergeJob): Promise<Uint8Array> {
    const worker = this.idle.pop();
    if (!worker) return Promise.reject(new Error("worker pool: more jobs than workers"));
    return new Promise((resolve, reject) => {
      this.pending.set(job.index, { resolve, reject, worker });
      worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    const workers = new Set([...this.idle, ...[...this.pending.values()].map((p) => p.worker)]);
    await Promise.all([...workers].map((w) => w.terminate()));
  }

  private settle(worker: Worker, reply: WorkerReply): void {
    const job = this.pending.get(reply.index);
    if (!job) return;
    this.pending.delete(reply.index);
    this.idle.push(worker);
    if (reply.error) job.reject(reply.error.input ? new InputError(reply.error.message) : new Error(reply.error.message));
    else job.resolve(new Uint8Array(reply.buffer!, reply.byteOffset, reply.byteLength));
  }

  private failAll(worker: Worker, err: Error): void {
    for (const [index, job] of this.pending) {
      if (job.worker !== worker) continue;
      this.pending.delete(index);
      job.reject(err);
    }
  }
}
