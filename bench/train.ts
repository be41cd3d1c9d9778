/**
 * Training benchmark: seconds per step at the fixture family's size (hidden 64, intermediate 128, 4 layers, 4
 * heads / 2 KV, vocab 262) with batch × seqLen tokens per step: on this thread, with each batch split across two
 * threads (trainModelParallel), as two trainInWorker runs at once (two fine-tunes side by side), and one forward +
 * backward split into its parts.
 * It measures; it never fails because of a time.
 *
 *   node --import tsx bench/train.ts [--steps 20] [--batch 16] [--seq-len 128]
 */
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { FAMILY_SHAPE } from "../src/fixtures/family.ts";
import { BYTE_VOCAB_SIZE } from "../src/fixtures/byte-tokenizer.ts";
import { backward } from "../src/train/backward.ts";
import { fillBatch, type TrainingSequence } from "../src/train/batches.ts";
import { createEngine, loadParams } from "../src/train/engine.ts";
import { forward } from "../src/train/forward.ts";
import { trainInWorker } from "../src/train/in-worker.ts";
import { trainModelParallel } from "../src/train/parallel.ts";
import { initModel } from "../src/train/model.ts";
import type { ModelShape } from "../src/train/shape.ts";
import { trainModel, type TrainOptions } from "../src/train/train.ts";

const { values } = parseArgs({ options: { steps: { type: "string", default: "20" }, batch: { type: "string", default: "16" }, "seq-len": { type: "string", default: "128" } } });
const steps = Number(values.steps);
const batchSize = Number(values.batch);
const seqLen = Number(values["seq-len"]);
const { hidden, intermediate, layers, heads, kvHeads } = FAMILY_SHAPE;
const shape: ModelShape = { vocab: BYTE_VOCAB_SIZE, hidden, intermediate, layers, heads, kvHeads, headDim: hidden / heads, rmsEps: 1e-5, ropeTheta: 10000 };
const sequences: TrainingSequence[] = Array.from({ length: 64 }, (_, s) => ({ ids: Array.from({ length: seqLen }, (_, t) => (s * 31 + t * 7) % shape.vocab) }));
const init = initModel(shape, 1);
const options: TrainOptions = { init, sequences, steps, batchSize, seqLen, lr: 1e-3, seed: 1 };
const params = [...init.params.values()].reduce((n, v) => n + v.length, 0);
console.log(`${params} parameters, ${batchSize} × ${seqLen} tokens per step, ${steps} steps, ${cpus().length} CPUs (${cpus()[0]?.model})`);

trainModel({ ...options, steps: 2 }); // warm-up: compile the kernel and the hot loops
let start = performance.now();
trainModel(options);
const single = (performance.now() - start) / 1000 / steps;
console.log(`one thread: ${single.toFixed(3)} s/step (${(1 / single).toFixed(2)} steps/s)`);

start = performance.now();
await trainModelParallel(options);
const split = (performance.now() - start) / 1000 / steps;
console.log(`batch split on two threads: ${split.toFixed(3)} s/step (${(1 / split).toFixed(2)} steps/s; includes worker start-up)`);

start = performance.now();
await Promise.all([trainInWorker(options), trainInWorker({ ...options, seed: 2 })]);
const pair = (performance.now() - start) / 1000 / steps;
console.log(`two trainInWorker at once: ${pair.toFixed(3)} s/step each (${(2 / pair).toFixed(2)} steps/s together; includes worker start-up)`);

const engine = createEngine(shape, batchSize, seqLen);
loadParams(engine, init.params);
fillBatch(engine, sequences.slice(0, batchSize));
let [forwardMs, backwardMs] = [0, 0];
for (let i = 0; i < 5; i++) {
  const a = performance.now();
  forward(engine);
  const b = performance.now();
  backward(engine);
  [forwardMs, backwardMs] = [forwardMs + (b - a) / 5, backwardMs + (performance.now() - b) / 5];
}
console.log(`forward ${forwardMs.toFixed(1)} ms, backward ${backwardMs.toFixed(1)} ms, optimizer and batching the rest`);
