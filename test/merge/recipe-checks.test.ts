import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { parseMergeConfig } from "../../src/merge/config.ts";
import { formatParameterRows, runMerge } from "../../src/merge/index.ts";
import { knownParameterNames } from "../../src/merge/methods/registry.ts";
import { expectInputError } from "../expect-input-error.ts";
import { runCli } from "../run-cli.ts";

/**
 * Typos in a recipe are caught before any weights are read (issue 10): an unknown parameter name is an error,
 * a parameter the method ignores or a filter that selects nothing is a warning (an error with --strict), and the
 * dry run shows every parameter's resolved value.
 */

const SHAPE: TinyModelShape = { vocab: 24, hidden: 16, intermediate: 20, layers: 4, dtype: "F32" };
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-recipe-checks-"));
  await writeTinyModel(join(root, "base"), "base", 0, SHAPE);
  await writeTinyModel(join(root, "general"), "general", 0.02, SHAPE);
  await writeTinyModel(join(root, "safety"), "safety", 0.03, SHAPE);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function recipe(lines: string[]): Promise<string> {
  const name = `recipe-${++counter}.yml`;
  await writeFile(join(root, name), lines.join("\n") + "\n");
  return name;
}

const merge = (...args: string[]) => runCli(["merge", ...args], { cwd: root });
/** A table line with its column padding shown as " | ". */
const columns = (line: string) => line.trim().replace(/ {2,}/g, " | ");

const TIES = [
  "merge_method: ties",
  "base_model: base",
  "models:",
  "  - model: general",
  "    parameters: { weight: 0.5, density: 0.5 }",
  "  - model: safety",
  "    parameters: { weight: 0.5, density: 0.5 }",
];
const LINEAR = ["merge_method: linear", "models:", "  - model: general", "    parameters: { weight: 0.7 }", "  - model: safety", "    parameters: { weight: 0.3 }"];

describe("mergeval merge: parameter names", () => {
  it("a misspelt parameter (densty under ties) is an error naming the file, line and the nearest name; nothing is written", async () => {
    const file = await recipe(TIES.map((l, i) => (i === 6 ? "    parameters: { weight: 0.5, densty: 0.5 }" : l)));
    const result = await merge(file, "out-densty");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:7: models.1.parameters.densty: unknown parameter — did you mean "density"?`);
    expect(result.stderr).toContain("ties takes: weight, density, normalize, rescale, lambda, int8_mask");
    expect(existsSync(join(root, "out-densty"))).toBe(false);
  });

  it("a parameter linear does not read (t) is a warning and the merge runs; --strict makes it exit 2 before merging", async () => {
    const file = await recipe([...LINEAR, "parameters:", "  t: 0.5"]);
    const lenient = await merge(file, "out-t", "-q");
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toContain(`warning: ${file}:8: parameters.t: linear does not use t, so it is ignored (linear takes: weight, normalize)`);
    expect(existsSync(join(root, "out-t", "model.safetensors"))).toBe(true);

    const strict = await merge(file, "out-t-strict", "--strict");
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain("1 warning, which strict mode makes errors");
    expect(strict.stderr).toContain(`${file}:8: parameters.t: linear does not use t`);
    expect(existsSync(join(root, "out-t-strict"))).toBe(false);
  });

  it("a filter that matches no tensor name is a warning with a suggestion, and the dry run counts it", async () => {
    const file = await recipe([
      "merge_method: slerp",
      "base_model: general",
      "models: [{ model: general }, { model: safety }]",
      "parameters:",
      "  t:",
      "    - { filter: self_atn, value: 0.2 }",
      "    - { value: 0.5 }",
    ]);
    const result = await merge(file, "out-filter", "--dry-run");
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${file}:6: parameters.t.0.filter: filter "self_atn" matches no tensor name (did you mean "self_attn"?)`);
    expect(result.stdout).toContain("1 warning(s)");
  });

  it("--dry-run prints every parameter's value per model and layers, after gradients and filters", async () => {
    const file = await recipe([
      "merge_method: ties",
      "base_model: base",
      "models:",
      "  - model: general",
      "    parameters: { weight: [0, 1], density: [{ filter: mlp, value: 0.3 }, { value: 0.6 }] }",
      "  - model: safety",
      "    parameters: { weight: 0.5, density: 0.5 }",
    ]);
    const result = await merge(file, "out-dry", "--dry-run");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("parameters after gradients and filters:");
    const table = lines.slice(1, -1).map(columns);
    expect(table).toEqual([
      "global",
      "all tensors | normalize=true rescale=false lambda=1 int8_mask=false",
      "model general",
      "layers 0 | all but mlp | weight=0 density=0.6",
      "layers 0 | mlp | weight=0 density=0.3",
      "layers 1 | all but mlp | weight=0.3333 density=0.6",
      "layers 1 | mlp | weight=0.3333 density=0.3",
      "layers 2 | all but mlp | weight=0.6667 density=0.6",
      "layers 2 | mlp | weight=0.6667 density=0.3",
      "layers 3 | all but mlp | weight=1 density=0.6",
      "layers 3 | mlp | weight=1 density=0.3",
      "embed_tokens, norm, lm_head | weight=0 density=0.6",
      "model safety",
      "all tensors | weight=0.5 density=0.5",
    ]);
    expect(lines[lines.length - 1]).toMatch(/^ok: ties would write \d+ tensors .*; 0 warning\(s\)$/);
  });

  it("a file with several YAML documents gets mergeval's own message", async () => {
    const file = await recipe([...LINEAR, "---", ...LINEAR]);
    const result = await merge(file, "out-multi", "--dry-run");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${file}:7: holds 2 YAML documents (separated by ---); mergeval reads one recipe per file (mergekit-multi's multi-stage form is not supported): split it into one file per merge`,
    );
    expect(result.stderr).not.toContain("parseAllDocuments");
  });
});

describe("recipe parameter checks (API)", () => {
  const at = (lines: string[]) => lines.join("\n") + "\n";

  it("accepts every parameter mergekit's examples use where mergekit reads it", () => {
    const text = at([
      "models:",
      "  - {model: a, parameters: {density: [1, 0.7, 0.1], weight: 1.0}}",
      "  - {model: b, parameters: {density: 0.33, weight: [{filter: mlp, value: 0.5}, {value: 0}]}}",
      "merge_method: ties",
      "base_model: c",
      "parameters: {normalize: true, int8_mask: true, lambda: 1.0, rescale: false}",
    ]);
    expect(() => parseMergeConfig(text, "ties.yml")).not.toThrow();
    const della = at(["merge_method: della", "base_model: c", "models: [{model: a, parameters: {weight: 1, density: 0.5, epsilon: 0.1}}]"]);
    expect(() => parseMergeConfig(della, "della.yml")).not.toThrow();
    const crumbs = at(["merge_method: breadcrumbs", "base_model: c", "models: [{model: a, parameters: {weight: 1, density: 0.9, gamma: 0.01}}]"]);
    expect(() => parseMergeConfig(crumbs, "b.yml")).not.toThrow();
    for (const name of ["filter_wise", "nuslerp_flatten", "nuslerp_row_wise", "scale", "select_topk", "normalize_weights", "max_iter", "tol"]) {
      expect(knownParameterNames()).toContain(name);
    }
  });

  it("lists every unknown parameter, each at its line, suggesting from all methods when the method has no close name", () => {
    const text = at(["merge_method: slerp", "base_model: a", "models: [{model: a}, {model: b}]", "parameters:", "  densty: 0.5", "  tt: 0.5"]);
    expect(() => parseMergeConfig(text, "s.yml")).toThrow(
      's.yml:5: parameters.densty: unknown parameter — did you mean "density"? (slerp takes: t)\n' +
        's.yml:6: parameters.tt: unknown parameter — did you mean "t"? (slerp takes: t)',
    );
  });

  it("suggests the nearest method for a misspelt merge_method, at its line", () => {
    expect(() => parseMergeConfig("models: [{model: a}]\nmerge_method: tie\n", "m.yml")).toThrow(/^m\.yml:2: unknown merge_method "tie" \(did you mean ties\?\)/);
  });

  it("warns about a global parameter set per model, and the `strict` option fails on it", async () => {
    const file = join(root, await recipe([...TIES.slice(0, 4), "    parameters: { weight: 0.5, lambda: 2 }", ...TIES.slice(5)]));
    const warnings: string[] = [];
    await runMerge({ configFile: file, outDir: join(root, "out-lambda"), cwd: root, dryRun: true, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.stringMatching(/:5: models\.0\.parameters\.lambda: lambda is one value for all models in ties, so a per-model value is ignored/)]);
    await expectInputError(runMerge({ configFile: file, outDir: join(root, "out-lambda"), cwd: root, strict: true }), "strict mode", "models.0.parameters.lambda");
    expect(existsSync(join(root, "out-lambda"))).toBe(false);
  });

  it("task_arithmetic has no sparsification: density and rescale there are unused, not errors", async () => {
    const file = join(root, await recipe(["merge_method: task_arithmetic", "base_model: base", "models: [{model: general, parameters: {weight: 1, density: 0.5}}]", "parameters: {rescale: true}"]));
    const summary = await runMerge({ configFile: file, outDir: join(root, "out-ta"), cwd: root, dryRun: true });
    expect(summary.warnings).toEqual([
      expect.stringContaining("models.0.parameters.density: task_arithmetic does not use density"),
      expect.stringContaining("parameters.rescale: task_arithmetic does not use rescale"),
    ]);
  });

  it("dry-run rows name passthrough slices by their output layers, and a mostly-uniform layer as 'all but …'", async () => {
    const file = join(root, await recipe([
      "merge_method: passthrough",
      "slices:",
      "  - sources: [{model: general, layer_range: [0, 3]}]",
      "  - sources: [{model: safety, layer_range: [2, 4], parameters: {scale: [{filter: o_proj, value: 0}, {value: 1}]}}]",
    ]));
    const summary = await runMerge({ configFile: file, outDir: join(root, "out-pt"), cwd: root, dryRun: true });
    expect(formatParameterRows(summary.parameters!).map(columns)).toEqual([
      "parameters after gradients and filters:",
      "model general",
      "layers 0-2 | all | scale=1",
      "embed_tokens | scale=1",
      "model safety",
      "layers 3-4 | all but self_attn.o_proj | scale=1",
      "layers 3-4 | self_attn.o_proj | scale=0",
      "norm, lm_head | scale=1",
    ]);
  });
});
