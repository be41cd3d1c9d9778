import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { expandSweep } from "../../src/experiment/sweep.ts";

const WHERE = "exp.yml: merges.lin";

/** A two-model linear merge whose weights are the sweep variable and its complement. */
const linear = () => ({
  merge_method: "linear",
  models: [
    { model: "general", parameters: { weight: "${1-w}" } },
    { model: "safety", parameters: { weight: "${w}" } },
  ],
  dtype: "float32",
});

/** Runs expandSweep expecting an InputError; returns its message. */
function sweepError(...args: Parameters<typeof expandSweep>): string {
  let caught: unknown;
  try {
    expandSweep(...args);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InputError);
  return (caught as Error).message;
}

describe("expandSweep: placeholders", () => {
  it("puts the value for ${w} and its complement for ${1-w}, without float noise", () => {
    const points = expandSweep("lin", linear(), { w: [0.3, 0.7, 0.1, 0.9] }, WHERE);
    const weights = points.map((p) => (p.recipe.models as { parameters: { weight: number } }[]).map((m) => m.parameters.weight));
    // 1 − 0.3 is 0.7, and 1 − 0.7 is 0.3 and 1 − 0.9 is 0.1 in the recipe (in floats 1 − 0.7 = 0.30000000000000004
    // and 1 − 0.9 = 0.09999999999999998).
    expect(weights).toEqual([
      [0.7, 0.3],
      [0.3, 0.7],
      [0.9, 0.1],
      [0.1, 0.9],
    ]);
    expect(weights[0]![0]).toBe(0.7);
    expect(weights[1]![0]).toBe(0.3);
    expect(weights[3]![0]).toBe(0.1);
    expect(points.map((p) => p.name)).toEqual(["lin-w0.3", "lin-w0.7", "lin-w0.1", "lin-w0.9"]);
    expect(points.map((p) => p.point)).toEqual([{ w: 0.3 }, { w: 0.7 }, { w: 0.1 }, { w: 0.9 }]);
  });

  it("keeps everything else of the recipe and leaves the input recipe untouched", () => {
    const recipe = linear();
    const before = structuredClone(recipe);
    const [first] = expandSweep("lin", recipe, { w: [0.25] }, WHERE);
    expect(first!.recipe).toEqual({
      merge_method: "linear",
      models: [
        { model: "general", parameters: { weight: 0.75 } },
        { model: "safety", parameters: { weight: 0.25 } },
      ],
      dtype: "float32",
    });
    expect(recipe).toEqual(before);
    // No variable appears nowhere, so no global parameters are added.
    expect(first!.recipe).not.toHaveProperty("parameters");
  });

  it("accepts spaces inside the braces and placeholders in lists (gradients)", () => {
    const recipe = { merge_method: "slerp", base_model: "general", parameters: { t: ["${ t }", "${ 1 - t }", 0] } };
    const [p] = expandSweep("s", recipe, { t: [0.2] }, WHERE);
    expect(p!.recipe.parameters).toEqual({ t: [0.2, 0.8, 0] });
  });

  it("makes a variable that appears nowhere a global parameters.<var>, merged with the existing parameters", () => {
    const recipe = { merge_method: "ties", base_model: "base", models: [{ model: "general" }, { model: "safety" }], parameters: { normalize: true, density: 0.9 } };
    const points = expandSweep("ties", recipe, { density: [0.3, 0.5] }, WHERE);
    expect(points.map((p) => p.recipe.parameters)).toEqual([
      { normalize: true, density: 0.3 },
      { normalize: true, density: 0.5 },
    ]);
    expect(points.map((p) => p.name)).toEqual(["ties-density0.3", "ties-density0.5"]);
    expect(recipe.parameters).toEqual({ normalize: true, density: 0.9 });

    // Without any parameters in the recipe, the block is created.
    const [t] = expandSweep("slerp", { merge_method: "slerp", base_model: "a", models: [{ model: "a" }, { model: "b" }] }, { t: [0.5] }, WHERE);
    expect(t!.recipe.parameters).toEqual({ t: 0.5 });
  });

  it("substitutes the variables it finds and makes only the others global", () => {
    const points = expandSweep("lin", linear(), { w: [0.3], t: [0.5] }, WHERE);
    expect(points).toHaveLength(1);
    expect(points[0]!.recipe.parameters).toEqual({ t: 0.5 });
    expect((points[0]!.recipe.models as { parameters: { weight: unknown } }[])[1]!.parameters.weight).toBe(0.3);
    expect(points[0]!.recipe.parameters).not.toHaveProperty("w");
  });
});

describe("expandSweep: the grid", () => {
  it("gives every combination, the first variable varying slowest, named <entry>-<var><value>…", () => {
    const points = expandSweep("lin", linear(), { w: [0.3, 0.6], t: [0.5, 0.25, 1] }, WHERE);
    expect(points).toHaveLength(6);
    expect(points.map((p) => p.name)).toEqual(["lin-w0.3-t0.5", "lin-w0.3-t0.25", "lin-w0.3-t1", "lin-w0.6-t0.5", "lin-w0.6-t0.25", "lin-w0.6-t1"]);
    expect(points.map((p) => p.point)).toEqual([
      { w: 0.3, t: 0.5 },
      { w: 0.3, t: 0.25 },
      { w: 0.3, t: 1 },
      { w: 0.6, t: 0.5 },
      { w: 0.6, t: 0.25 },
      { w: 0.6, t: 1 },
    ]);
    // Each member carries its own values: ${1-w} = 0.4 for w = 0.6.
    const fourth = points[3]!.recipe;
    expect((fourth.models as { parameters: { weight: number } }[]).map((m) => m.parameters.weight)).toEqual([0.4, 0.6]);
    expect(fourth.parameters).toEqual({ t: 0.5 });
  });

  it("orders the variables as the sweep declares them (t first: t varies slowest and comes first in names)", () => {
    const points = expandSweep("lin", linear(), { t: [1, 2], w: [0.5, 0.9] }, WHERE);
    expect(points.map((p) => p.name)).toEqual(["lin-t1-w0.5", "lin-t1-w0.9", "lin-t2-w0.5", "lin-t2-w0.9"]);
  });

  it("returns the recipe as one plain merge when there is no sweep (or an empty one)", () => {
    const recipe = { merge_method: "linear", models: [{ model: "a", parameters: { weight: 1 } }] };
    for (const sweep of [undefined, {}]) {
      const points = expandSweep("plain", recipe, sweep, WHERE);
      expect(points).toEqual([{ name: "plain", recipe }]);
      expect(points[0]).not.toHaveProperty("point");
    }
  });
});

describe("expandSweep: errors name the entry", () => {
  it("rejects a placeholder when there is no sweep", () => {
    for (const sweep of [undefined, {}]) {
      // ${1-w} comes first in the recipe; the message quotes it.
      expect(sweepError("lin", linear(), sweep, WHERE)).toBe('exp.yml: merges.lin: "${1-w}" uses a placeholder but there is no sweep');
    }
  });

  it("rejects a placeholder naming a variable the sweep does not have, listing the variables", () => {
    const recipe = { ...linear(), parameters: { t: "${t}" } };
    const message = sweepError("lin", recipe, { w: [0.5], density: [0.1] }, WHERE);
    expect(message).toBe("exp.yml: merges.lin: ${t} is not a sweep variable (w, density)");
  });

  it("rejects a placeholder embedded in a longer string", () => {
    const recipe = { merge_method: "linear", models: [{ model: "a", parameters: { weight: "0.${w}" } }, { model: "b", parameters: { weight: "${w}" } }] };
    const message = sweepError("lin", recipe, { w: [5] }, WHERE);
    expect(message).toContain(WHERE);
    expect(message).toContain('"0.${w}"');
    expect(message).toContain("a placeholder must be the whole value");
  });

  it("rejects an embedded placeholder even when it is the only use of the variable", () => {
    const recipe = { merge_method: "linear", models: [{ model: "a", parameters: { weight: "w=${w}" } }] };
    expect(sweepError("lin", recipe, { w: [0.5] }, WHERE)).toContain("a placeholder must be the whole value");
  });

  it("rejects a placeholder embedded in a longer string when there is no sweep", () => {
    const recipe = { merge_method: "linear", models: [{ model: "a", parameters: { weight: "0.${w}" } }] };
    expect(sweepError("lin", recipe, undefined, WHERE)).toContain(WHERE);
  });
});
