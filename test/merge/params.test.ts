import { describe, expect, it } from "vitest";
import { parseMergeConfig } from "../../src/merge/config.ts";
import { keepAbsRankRange } from "../../src/merge/math/rank.ts";
import { evaluateParameter, gradientAt, layerPosition, resolveParameter } from "../../src/merge/params.ts";

describe("gradients (mergekit reference values)", () => {
  const g = [0, 0.5, 0.3, 0.7, 1];
  it.each([
    [40, [0, 0.05128, 0.46154, 0.49487, 0.32051, 1]],
    [32, [0, 0.06452, 0.46774, 0.44194, 0.53226, 1]],
  ])("over %i layers", (layers, expected) => {
    const ks = [0, 1, 9, 10, 20, layers - 1];
    ks.forEach((k, i) => expect(gradientAt(g, layerPosition(k, layers))).toBeCloseTo(expected[i]!, 5));
  });
  it("[1, .7, .1] at t = .5 is .7; a one-layer slice sits at t = 1", () => {
    expect(gradientAt([1, 0.7, 0.1], 0.5)).toBeCloseTo(0.7);
    expect(layerPosition(0, 1)).toBe(1);
  });
});

describe("parameter values", () => {
  it("filters are first-match substring tests; none matching gives no value", () => {
    const value = [{ filter: "self_attn", value: 0.1 }, { filter: "mlp", value: [0, 1] }, { value: 0.5 }];
    expect(evaluateParameter(value, "model.layers.3.self_attn.q_proj.weight", 0.5)).toBe(0.1);
    expect(evaluateParameter(value, "model.layers.3.mlp.up_proj.weight", 0.25)).toBeCloseTo(0.25);
    expect(evaluateParameter(value, "model.norm.weight", 0)).toBe(0.5);
    expect(evaluateParameter([{ filter: "mlp", value: 1 }], "model.norm.weight", 0)).toBeUndefined();
    expect(evaluateParameter([{ filter: "*", value: 2 }], "anything", 0)).toBe(2);
  });
  it("a list of non-numbers picks element ⌊t(n−1)⌋", () => {
    expect(evaluateParameter([true, false], "x", 0.9)).toBe(true);
    expect(evaluateParameter([true, false], "x", 1)).toBe(false);
  });
  it("precedence: source > slice > global; a level without a match falls through", () => {
    const names = { input: "model.layers.1.mlp.up_proj.weight", output: "model.layers.5.mlp.up_proj.weight" };
    const levels = { source: { weight: 3 }, slice: { weight: 2 }, global: { weight: 1 } };
    expect(resolveParameter("weight", "model", levels, names, 0)).toBe(3);
    expect(resolveParameter("weight", "global", levels, names, 0)).toBe(2); // global params skip the source level
    expect(resolveParameter("weight", "model", { source: { weight: [{ filter: "attn", value: 9 }] }, global: { weight: 1 } }, names, 0)).toBe(1);
    expect(resolveParameter("weight", "model", {}, names, 0)).toBeUndefined();
  });
  it("per-model filters test the input name, global ones the output name", () => {
    const names = { input: "model.layers.1.x", output: "model.layers.5.x" };
    expect(resolveParameter("w", "model", { source: { w: [{ filter: "layers.1.", value: 7 }] } }, names, 0)).toBe(7);
    expect(resolveParameter("w", "model", { global: { w: [{ filter: "layers.1.", value: 7 }] } }, names, 0)).toBeUndefined();
  });
});

describe("rank selection", () => {
  it("keeps exactly k entries even with ties, the largest by |x|", () => {
    const v = Float32Array.from([1, -1, 1, 0.5, -3, 1, 0, 2]);
    expect(keepAbsRankRange(v, v.length - 4, v.length)).toBe(4);
    expect(Array.from(v).filter((x) => x !== 0).length).toBe(4);
    expect(v[4]).toBe(-3);
    expect(v[7]).toBe(2);
    expect(v[3]).toBe(0);
  });
});

describe("config parsing", () => {
  it("names the line of an unknown key, with a suggestion", () => {
    const text = "merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n    paramters: {weight: 1}\n";
    expect(() => parseMergeConfig(text, "r.yml")).toThrow('r.yml:5: models.0.paramters: unknown key — did you mean "parameters"?');
  });
  it("a misspelt merge_method key is unknown at its own line, not a missing merge_method", () => {
    const text = "models: [{model: a, parameters: {weight: 1}}]\nmerge_methd: linear\n";
    expect(() => parseMergeConfig(text, "r.yml")).toThrow(/^r\.yml:2: merge_methd: unknown key — did you mean "merge_method"\?$/);
    expect(() => parseMergeConfig("models: [{model: a}]\n", "r.yml")).toThrow(/^r\.yml: merge_method: missing \(required\)$/);
  });
  it("names the line of a wrong type", () => {
    expect(() => parseMergeConfig("merge_method: 3\nmodels: [{model: a}]\n", "r.yml")).toThrow(/r\.yml:1: merge_method/);
  });
  it("rejects both or neither of models/slices, and unsupported tokenizer modes", () => {
    expect(() => parseMergeConfig("merge_method: linear\n", "r.yml")).toThrow(/exactly one of `models` or `slices`/);
    const both = "merge_method: linear\nmodels: [{model: a}]\ntokenizer_source: union\ntokenizer: {source: base}\n";
    expect(() => parseMergeConfig(both, "r.yml")).toThrow(/Cannot specify both tokenizer_source and tokenizer/);
  });
  it("reads mergekit's TIES example as-is", () => {
    const text = `models:
  - {model: psmathur/orca_mini_v3_13b, parameters: {density: [1, 0.7, 0.1], weight: 1.0}}
  - {model: garage-bAInd/Platypus2-13B, parameters: {density: 0.5, weight: [0, 0.3, 0.7, 1]}}
  - model: WizardLM/WizardMath-13B-V1.0
    parameters: {density: 0.33, weight: [{filter: mlp, value: 0.5}, {value: 0}]}
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters: {normalize: true, int8_mask: true}
dtype: float16
`;
    const config = parseMergeConfig(text, "ties.yml");
    expect(config.models).toHaveLength(3);
    expect(config.dtype).toBe("float16");
  });
});
