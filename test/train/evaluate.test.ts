import { describe, expect, it } from "vitest";
import { evaluateLoss } from "../../src/train/evaluate.ts";
import { randomModel, referenceConfig, referenceLoss, SEQUENCES, TINY, toFloat64 } from "./helpers.ts";

describe("evaluateLoss", () => {
  it("is the reference's masked mean cross-entropy over all sequences, whatever the batch size", () => {
    const model = randomModel(TINY, "evaluate");
    const expected = referenceLoss(referenceConfig(TINY), toFloat64(model), SEQUENCES);
    for (const batchSize of [1, 2, 16]) expect(evaluateLoss(model, SEQUENCES, batchSize)).toBeCloseTo(expected, 5);
  });
});
