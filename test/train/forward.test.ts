import { describe, expect, it } from "vitest";
import { FAMILY, familyConfig, familyTensors } from "../../src/fixtures/family.ts";
import { parseLlamaConfig } from "../../src/models/llama-config.ts";
import { llamaLogits } from "../../src/models/llama-reference.ts";
import { fillBatch } from "../../src/train/batches.ts";
import { createEngine, loadParams } from "../../src/train/engine.ts";
import { forward } from "../../src/train/forward.ts";
import { shapeFromConfig } from "../../src/train/shape.ts";

describe("the forward pass", () => {
  it("gives the float64 reference's logits for the fixture family's base model, in a padded batch", () => {
    const config = parseLlamaConfig(familyConfig(), "family");
    const shape = shapeFromConfig(config, "family");
    const params = new Map(familyTensors(FAMILY[0]!).map((t) => [t.name, t.values]));
    const reference = new Map([...params].map(([name, values]) => [name, Float64Array.from(values)]));
    const sequences = [
      { ids: Array.from({ length: 40 }, (_, t) => (t * 37 + 5) % shape.vocab) },
      { ids: [1, 4, 6 + 72, 6 + 105, 2, 5, 6 + 33] },
    ];
    const seqLen = 48;
    const engine = createEngine(shape, 2, seqLen);
    loadParams(engine, params);
    fillBatch(engine, sequences);
    forward(engine);
    expect(engine.seqLen).toBe(40); // the longest sequence, not the buffers' 48
    let largest = 0;
    let worst = 0;
    sequences.forEach((s, b) => {
      const expected = llamaLogits(config, (n) => reference.get(n), s.ids);
      expected.forEach((row, t) =>
        row.forEach((value, j) => {
          largest = Math.max(largest, Math.abs(value));
          worst = Math.max(worst, Math.abs(value - engine.logits[(b * engine.seqLen + t) * shape.vocab + j]!));
        }),
      );
    });
    expect(largest).toBeGreaterThan(0.5);
    expect(worst).toBeLessThan(1e-4);
  });
});
