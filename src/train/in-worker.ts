import { InputError } from "../errors.ts";
import { startWorker } from "./start-worker.ts";
import type { TrainOptions, TrainResult } from "./train.ts";
import type { WorkerMessage } from "./worker-messages.ts";

/**
 * trainModel on a worker thread, so that two trainings (two fine-tunes of one base) run on two cores at once.
 * onStep is called on this thread as the worker reports each step. Same results as trainModel, bit for bit.
 */
export function trainInWorker(options: TrainOptions): Promise<TrainResult> {
  const { onStep, ...rest } = options;
  const worker = startWorker("worker");
  return new Promise<TrainResult>((resolve, reject) => {
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      finish();
      void worker.terminate();
    };
    worker.on("message", (message: WorkerMessage) => {
      if (message.kind === "step") onStep?.(message.step, message.loss);
      else if (message.kind === "done") settle(() => resolve({ model: message.model, losses: message.losses }));
      else settle(() => reject(message.input ? new InputError(message.message) : new Error(message.message)));
    });
    worker.on("error", (err) => settle(() => reject(err)));
    worker.on("exit", (code) => settle(() => reject(new Error(`training worker exited with code ${code} before finishing`))));
    worker.postMessage(rest);
  });
}
