import { parentPort } from "node:worker_threads";
import { InputError } from "../errors.ts";
import { trainModel } from "./train.ts";
import type { WorkerMessage, WorkerTrainOptions } from "./worker-messages.ts";

/** A training worker: runs one trainModel, reports each step, and transfers the parameters back. */
parentPort!.once("message", (options: WorkerTrainOptions) => {
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(message, transfer);
  try {
    const { model, losses } = trainModel({ ...options, onStep: (step, loss) => post({ kind: "step", step, loss }) });
    post({ kind: "done", model, losses }, [...model.params.values()].map((values) => values.buffer as ArrayBuffer));
  } catch (err) {
    post({ kind: "error", message: (err as Error).message, input: err instanceof InputError });
  }
});
