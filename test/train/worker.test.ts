import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { trainInWorker } from "../../src/train/in-worker.ts";
import { trainModelParallel } from "../../src/train/parallel.ts";
import { trainModel } from "../../src/train/train.ts";
import { randomModel, SEQUENCES, TINY } from "./helpers.ts";

describe("trainInWorker", () => {
  it("gives trainModel's losses and parameters bit for bit, reporting every step, two at once", async () => {
    const options = { init: randomModel(TINY, "worker"), sequences: SEQUENCES, steps: 6, batchSize: 2, seqLen: 5, lr: 1e-2, seed: 4 };
    const steps: number[] = [];
    const [inWorker, other] = await Promise.all([
      trainInWorker({ ...options, onStep: (step) => steps.push(step) }),
      trainInWorker({ ...options, seed: 5 }),
    ]);
    const here = trainModel(options);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(inWorker.losses).toEqual(here.losses);
    expect(other.losses).not.toEqual(here.losses);
    for (const [name, values] of here.model.params) expect(inWorker.model.params.get(name), name).toEqual(values);
    expect(inWorker.model.shape).toEqual(TINY);
  });

  it("rejects with the input error trainModel would throw", async () => {
    const failing = trainInWorker({ init: { shape: TINY, seed: 1 }, sequences: [{ ids: [1, 99] }], steps: 1, batchSize: 1, seqLen: 4, lr: 1e-3, seed: 1 });
    await expect(failing).rejects.toThrow(InputError);
    await expect(failing).rejects.toThrow(/outside the vocabulary/);
  });
});

describe("trainModelParallel", () => {
  const options = { init: randomModel(TINY, "parallel"), sequences: SEQUENCES, steps: 6, batchSize: 3, seqLen: 5, lr: 1e-2, seed: 4 };

  it("splits each batch across two threads: deterministic, and within rounding of trainModel", async () => {
    const steps: number[] = [];
    const [a, b] = await Promise.all([trainModelParallel({ ...options, onStep: (step) => steps.push(step) }), trainModelParallel(options)]);
    const single = trainModel(options);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(a.losses).toEqual(b.losses);
    for (const [name, values] of a.model.params) expect(values, name).toEqual(b.model.params.get(name));
    a.losses.forEach((loss, i) => expect(loss).toBeCloseTo(single.losses[i]!, 4));
    for (const [name, values] of a.model.params) {
      const other = single.model.params.get(name)!;
      values.forEach((v, i) => expect(Math.abs(v - other[i]!), name).toBeLessThan(1e-4));
    }
  });
});
