import { parentPort } from "node:worker_threads";
import { InputError } from "../errors.ts";
import type { WorkerReply } from "./job-runners.ts";
import { runJob, type MergeJob } from "./job.ts";
import { TensorReader } from "./safetensors/tensor-reader.ts";

/** A merge worker: runs the jobs it is posted and transfers each output buffer back. */
const reader = new TensorReader();
parentPort!.on("message", async (job: MergeJob) => {
  try {
    const bytes = await runJob(job, reader);
    const reply: WorkerReply = { index: job.index, buffer: bytes.buffer as ArrayBuffer, byteOffset: bytes.byteOffset, byteLength: bytes.byteLength };
    parentPort!.postMessage(reply, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    const reply: WorkerReply = { index: job.index, error: { message: (err as Error).message, input: err instanceof InputError } };
    parentPort!.postMessage(reply);
  }
});
