import { Worker } from "node:worker_threads";
import { InputError } from "../errors.ts";
import { runPiece, type Piece } from "./job.ts";
import { createWorkingMemory, installKernels, SCRATCH_BYTES, type WasmMemory } from "./kernels/runtime.ts";
import { TensorReader } from "./safetensors/tensor-reader.ts";

/** Runs pieces of merge work in `memory`, up to `concurrency` at a time. */
export interface PieceRunner {
  concurrency: number;
  /** The working memory pieces' slots point into; pieces take bytes [ringStart, ringStart + ringBytes). */
  memory: ArrayBuffer | SharedArrayBuffer;
  ringStart: number;
  ringBytes: number;
  run(piece: Piece): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Runs pieces on this thread. Several at a time still pays: their reads proceed in libuv's thread pool while
 * another piece's math runs.
 */
export class InProcessRunner implements PieceRunner {
  readonly concurrency = 4;
  readonly memory: ArrayBuffer | SharedArrayBuffer;
  readonly ringStart: number;
  private readonly reader = new TensorReader();

  constructor(readonly ringBytes: number) {
    const wasm = createWorkingMemory(ringBytes, 1);
    if (wasm) installKernels(wasm, 0);
    this.memory = wasm ? wasm.buffer : new ArrayBuffer(ringBytes);
    this.ringStart = wasm ? SCRATCH_BYTES : 0;
  }

  run(piece: Piece): Promise<Uint8Array> {
    return runPiece(piece, this.memory, this.reader);
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}

export interface WorkerReply {
  id: number;
  /** The result in the shared memory… */
  byteOffset?: number;
  byteLength?: number;
  /** …or in a buffer of its own (a method that returned a new array), transferred. */
  buffer?: ArrayBuffer;
  error?: { message: string; input: boolean };
}

/** A worker's working memory: the WebAssembly memory and its scratch area, or a plain shared buffer. */
export type WorkerSetup = { wasm: WasmMemory; area: number } | { memory: SharedArrayBuffer };

export interface WorkerRequest {
  id: number;
  piece: Piece;
}

/**
 * Runs pieces on worker threads, one piece per worker at a time. The working memory is shared: workers read
 * and merge in place, and the main thread writes the result from the same memory.
 */
export class WorkerPool implements PieceRunner {
  readonly memory: SharedArrayBuffer;
  readonly ringStart: number;
  private readonly idle: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (bytes: Uint8Array) => void; reject: (err: Error) => void; worker: Worker }>();
  private nextId = 0;

  constructor(
    readonly concurrency: number,
    readonly ringBytes: number,
  ) {
    const wasm = createWorkingMemory(ringBytes, concurrency);
    this.memory = wasm ? wasm.buffer : new SharedArrayBuffer(ringBytes);
    this.ringStart = wasm ? concurrency * SCRATCH_BYTES : 0;
    for (let i = 0; i < concurrency; i++) {
      const data: WorkerSetup = wasm ? { wasm, area: i } : { memory: this.memory };
      const worker = new Worker(new URL(import.meta.url.endsWith(".ts") ? "./worker-entry.mjs" : "./job-worker.js", import.meta.url), { workerData: data });
      worker.on("message", (reply: WorkerReply) => this.settle(worker, reply));
      worker.on("error", (err) => this.failAll(worker, err));
      this.idle.push(worker);
    }
  }

  run(piece: Piece): Promise<Uint8Array> {
    const worker = this.idle.pop();
    if (!worker) return Promise.reject(new Error("worker pool: more pieces than workers"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      const request: WorkerRequest = { id, piece };
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    const workers = new Set([...this.idle, ...[...this.pending.values()].map((p) => p.worker)]);
    await Promise.all([...workers].map((w) => w.terminate()));
  }

  private settle(worker: Worker, reply: WorkerReply): void {
    const job = this.pending.get(reply.id);
    if (!job) return;
    this.pending.delete(reply.id);
    this.idle.push(worker);
    if (reply.error) job.reject(reply.error.input ? new InputError(reply.error.message) : new Error(reply.error.message));
    else if (reply.buffer) job.resolve(new Uint8Array(reply.buffer, reply.byteOffset, reply.byteLength));
    else job.resolve(new Uint8Array(this.memory, reply.byteOffset, reply.byteLength));
  }

  private failAll(worker: Worker, err: Error): void {
    for (const [id, job] of this.pending) {
      if (job.worker !== worker) continue;
      this.pending.delete(id);
      job.reject(err);
    }
  }
}
