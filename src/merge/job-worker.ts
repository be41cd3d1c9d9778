import { parentPort, workerData } from "node:worker_threads";
import { InputError } from "../errors.ts";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./job-runners.ts";
import { runPiece } from "./job.ts";
import { installKernels } from "./kernels/runtime.ts";
import { TensorReader } from "./safetensors/tensor-reader.ts";

/**
 * A merge worker: runs the pieces it is posted in the working memory it shares with the main thread, and replies
 * where each result lies (a result the method put in an array of its own is transferred instead).
 */
const setup = workerData as WorkerSetup;
if ("wasm" in setup) installKernels(setup.wasm, setup.area);
const memory = "wasm" in setup ? setup.wasm.buffer : setup.memory;
const reader = new TensorReader();
parentPort!.on("message", async ({ id, piece }: WorkerRequest) => {
  try {
    const bytes = await runPiece(piece, memory, reader);
    if (bytes.buffer === memory) {
      const reply: WorkerReply = { id, byteOffset: bytes.byteOffset, byteLength: bytes.byteLength };
      parentPort!.postMessage(reply);
    } else {
      const own = bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
      const reply: WorkerReply = { id, buffer: own.buffer as ArrayBuffer, byteOffset: own.byteOffset, byteLength: own.byteLength };
      parentPort!.postMessage(reply, [own.buffer as ArrayBuffer]);
    }
  } catch (err) {
    const reply: WorkerReply = { id, error: { message: (err as Error).message, input: err instanceof InputError } };
    parentPort!.postMessage(reply);
  }
});
