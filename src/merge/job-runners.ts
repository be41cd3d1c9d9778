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
 * Runs pieces on worker threads, a few per worker at a time (one's reads overlap another's math). The working
 * memory is shared: workers read and merge in place, and the main thread writes the results from it.
 */
export class WorkerPool implements PieceRunner {
  readonly memory: SharedArrayBuffer;
  readonly ringStart: number;
  readonly concurrency: number;
  private readonly workers: Worker[] = [];
  private readonly load = new Map<Worker, number>();
  private readonly pending = new Map<number, { resolve: (bytes: Uint8Array) => void; reject: (err: Error) => void; worker: Worker }>();
  private nextId = 0;

  constructor(
    workers: number,
    readonly ringBytes: number,
    piecesPerWorker = 2,
  ) {
    this.concurrency = workers * piecesPerWorker;
    const wasm = createWorkingMemory(ringBytes, workers);
    this.memory = wasm ? wasm.buffer : new SharedArrayBuffer(ringBytes);
    this.ringStart = wasm ? workers * SCRATCH_BYTES : 0;
    for (let i = 0; i < workers; i++) {
      const data: WorkerSetup = wasm ? { wasm, area: i } : { memory: this.memory };
      const worker = new Worker(new URL(import.meta.url.endsWith(".ts") ? "./worker-entry.mjs" : "./job-worker.js", import.meta.url), { workerData: data });
      worker.on("message", (reply: WorkerReply) => this.settle(reply));
      worker.on("error", (err) => this.failAll(worker, err));
      this.workers.push(worker);
      this.load.set(worker, 0);
    }
  }

  run(piece: Piece): Promise<Uint8Array> {
    const worker = this.workers.reduce((a, b) => (this.load.get(b)! < this.load.get(a)! ? b : a));
    const id = this.nextId++;
    this.load.set(worker, this.load.get(worker)! + 1);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      const request: WorkerRequest = { id, piece };
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(reply: WorkerReply): void {
    const job = this.pending.get(reply.id);
    if (!job) return;
    this.pending.delete(reply.id);
    this.load.set(job.worker, this.load.get(job.worker)! - 1);
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
