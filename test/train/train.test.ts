import { describe, expect, it } from "vitest";
import { backward } from "../../src/train/backward.ts";
import { fillBatch } from "../../src/train/batches.ts";
import { createEngine, loadParams } from "../../src/train/engine.ts";
import { forward } from "../../src/train/forward.ts";
import { trainModel } from "../../src/train/train.ts";
import { randomModel, SEQUENCES, TINY } from "./helpers.ts";

const SHAPE = { ...TINY, vocab: 262, hidden: 32, intermediate: 64, heads: 4, kvHeads: 2, headDim: 8 };
const MEMORISE = [
  { ids: [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 2] },
  { ids: [1, 200, 150, 100, 50, 0, 7, 2] },
  { ids: [1, 33, 33, 44, 44, 55, 55, 66, 66, 2] },
  { ids: [1, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5] },
];

describe("trainModel", () => {
  it("memorises a few short sequences: the loss falls from ln(vocab) to well under 1 within 100 steps", () => {
    const { losses } = trainModel({ init: { shape: SHAPE, seed: 1 }, sequences: MEMORISE, steps: 100, batchSize: 4, seqLen: 12, lr: 1e-2, seed: 1 });
    expect(losses[0]).toBeCloseTo(Math.log(262), 1);
    expect(losses.at(-1)).toBeLessThan(1);
  });

  it("is deterministic: the same seed gives bit-identical losses and parameters; another seed does not", () => {
    const run = (seed: number) => trainModel({ init: { shape: TINY, seed: 3 }, sequences: SEQUENCES, steps: 8, batchSize: 2, seqLen: 5, lr: 1e-2, seed });
    const [a, b, c] = [run(1), run(1), run(2)];
    expect(a.losses).toEqual(b.losses);
    for (const [name, values] of a.model.params) expect(Buffer.from(values.buffer).equals(Buffer.from(b.model.params.get(name)!.buffer)), name).toBe(true);
    expect(c.losses).not.toEqual(a.losses);
  });

  it("continues from given parameters without changing them", () => {
    const start = randomModel(TINY, "continue");
    const copy = new Map([...start.params].map(([n, v]) => [n, v.slice()]));
    const { model } = trainModel({ init: start, sequences: SEQUENCES, steps: 2, batchSize: 3, seqLen: 5, lr: 1e-3, seed: 1 });
    for (const [name, values] of start.params) expect(values).toEqual(copy.get(name));
    expect(model.params.get("lm_head.weight")).not.toEqual(start.params.get("lm_head.weight"));
  });

  it("stops with the step when the loss is no longer finite", () => {
    const start = randomModel(TINY, "diverge");
    start.params.get("lm_head.weight")![0] = Number.NaN;
    expect(() => trainModel({ init: start, sequences: SEQUENCES, steps: 3, batchSize: 3, seqLen: 5, lr: 1e-3, seed: 1 })).toThrow(/loss at step 1 is NaN/);
  });

  it("refuses sequences longer than seqLen and tokens outside the vocabulary", () => {
    const base = { init: { shape: TINY, seed: 1 }, steps: 1, batchSize: 1, seqLen: 4, lr: 1e-3, seed: 1 };
    expect(() => trainModel({ ...base, sequences: [{ ids: [1, 2, 3, 4, 5] }] })).toThrow(/more than seqLen 4/);
    expect(() => trainModel({ ...base, sequences: [{ ids: [1, 20] }] })).toThrow(/outside the vocabulary/);
  });
});

describe("loss masks", () => {
  const gradients = (sequences: typeof SEQUENCES) => {
    const engine = createEngine(TINY, 3, 12);
    loadParams(engine, randomModel(TINY, "masks").params);
    fillBatch(engine, sequences);
    const loss = forward(engine);
    backward(engine);
    return { loss, grads: engine.flatGrads.slice() };
  };

  it("a masked token contributes no gradient: changing it as a target changes nothing", () => {
    const masked = [{ ids: [2, 5, 11, 4], lossMask: [0, 0, 1, 0] }];
    const changed = [{ ids: [2, 5, 11, 9], lossMask: [0, 0, 1, 0] }];
    const a = gradients(masked);
    const b = gradients(changed);
    expect(a.loss).toBe(b.loss);
    expect(a.grads).toEqual(b.grads);
    expect(gradients([{ ids: [2, 5, 11, 9], lossMask: [0, 0, 1, 1] }]).grads).not.toEqual(a.grads);
  });

  it("padding and empty rows change nothing: one sequence alone, beside padding, or padded further gives the same gradient", () => {
    const alone = gradients([SEQUENCES[1]!]);
    const padded = gradients([SEQUENCES[1]!, { ids: [0, 0], lossMask: [0, 0] }]);
    const longer = gradients([SEQUENCES[1]!, { ids: new Array<number>(12).fill(3), lossMask: new Array<number>(12).fill(0) }]);
    for (const other of [padded, longer]) {
      expect(other.loss).toBe(alone.loss);
      expect(other.grads).toEqual(alone.grads);
    }
  });
});
