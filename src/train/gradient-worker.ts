import { parentPort, workerData } from "node:worker_threads";
import { backward } from "./backward.ts";
import { fillBatch } from "./batches.ts";
import { createEngine } from "./engine.ts";
import { forward } from "./forward.ts";
import type { GradientJob, GradientReply, GradientWorkerData } from "./parallel.ts";

/**
 * The second thread of trainModelParallel: for each job, reads the current parameters from the shared exchange,
 * runs forward and backward on its share of the batch, and writes its gradients back.
 */
const { shape, batch, seqLen, exchange } = workerData as GradientWorkerData;
const engine = createEngine(shape, batch, seqLen);
const size = engine.flatParams.length;
const shared = new Float32Array(exchange);
parentPort!.on("message", (job: GradientJob) => {
  let reply: GradientReply;
  try {
    engine.flatParams.set(shared.subarray(0, size));
    fillBatch(engine, job.sequences);
    const loss = forward(engine);
    backward(engine);
    shared.set(engine.flatGrads, size);
    let weight = 0;
    for (let r = 0; r < engine.rows; r++) weight += engine.weights[r]!;
    reply = { loss, weight };
  } catch (err) {
    reply = { error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
