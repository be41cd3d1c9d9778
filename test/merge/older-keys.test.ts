import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { parseMergeConfig } from "../../src/merge/config.ts";
import { runMerge, type MergeOptions, type MergeSummary } from "../../src/merge/index.ts";
import { runCli } from "../run-cli.ts";

/**
 * Keys mergekit's MergeConfiguration still takes that mergeval used to reject as unknown: input_model_parameters
 * (dropped in mergekit v0.0.4 and ignored since), slices[].residual_weight (declared, never read), and model
 * references written as mappings ({model: {path, revision}, lora: …}, ModelReference's serialised form).
 */

const SHAPE: TinyModelShape = { vocab: 12, hidden: 8, intermediate: 10, layers: 2, dtype: "F32" };
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-older-"));
  await writeTinyModel(join(root, "a"), "a", 0.02, SHAPE);
  await writeTinyModel(join(root, "b"), "b", 0.03, SHAPE);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function merge(yaml: string, options: Partial<MergeOptions> = {}): Promise<{ out: string; summary: MergeSummary; weights: Buffer }> {
  const name = `case-${++counter}`;
  const configFile = join(root, `${name}.yml`);
  await writeFile(configFile, yaml);
  const out = join(root, "out", name);
  const summary = await runMerge({ configFile, outDir: out, cwd: root, ...options });
  return { out, summary, weights: await readFile(join(out, "model.safetensors")) };
}

const SLICES = `slices:
  - sources:
      - {model: a, layer_range: [0, 2]}
      - {model: b, layer_range: [0, 2]}
    residual_weight: 0.3
merge_method: slerp
base_model: a
parameters: {t: 0.5}
`;

describe("older keys mergekit still accepts", () => {
  it("slices[].residual_weight: accepted with a warning at its line, and changes nothing (mergekit never reads it)", async () => {
    const withKey = await merge(SLICES);
    const without = await merge(SLICES.replace("    residual_weight: 0.3\n", ""));
    expect(withKey.summary.warnings).toEqual([
      expect.stringMatching(/case-\d+\.yml:5: slices\.0\.residual_weight: ignored — mergekit declares residual_weight on slices but no mergekit version has ever read it/),
    ]);
    expect(withKey.weights.equals(without.weights)).toBe(true);
    await expect(merge(SLICES, { strict: true })).rejects.toThrow(/1 warning, which strict mode makes errors:\n.*residual_weight/);
    // mergekit types it Optional[float].
    expect(() => parseMergeConfig(SLICES.replace("residual_weight: 0.3", "residual_weight: high"), "r.yml")).toThrow(/r\.yml:5: slices\.0\.residual_weight: /);
    expect(() => parseMergeConfig(SLICES.replace("residual_weight: 0.3", "residual_weight: null"), "r.yml")).not.toThrow();
  });

  it("top-level residual_weight and input_model_parameters: accepted with a warning each; input_model_parameters is not applied, as in mergekit", async () => {
    const yaml = `models:
  - {model: a, parameters: {weight: 0.5}}
  - {model: b, parameters: {weight: 0.5}}
merge_method: linear
input_model_parameters:
  a: {weight: 0.9}
residual_weight: 1
`;
    const legacy = await merge(yaml);
    expect(legacy.summary.warnings).toEqual([
      expect.stringMatching(/:5: input_model_parameters: ignored, as mergekit does since v0\.0\.4 \(PR #127 removed it; its README still lists it\), so these values are not applied: move them to models\[\]\.parameters/),
      expect.stringMatching(/:7: residual_weight: ignored — mergekit declares residual_weight on slices/),
    ]);
    const plain = await merge(yaml.replace(/input_model_parameters:[\s\S]*$/, ""));
    expect(legacy.weights.equals(plain.weights)).toBe(true);
  });

  it("--dry-run prints them as warnings", async () => {
    const configFile = join(root, "dry.yml");
    await writeFile(configFile, SLICES);
    const result = await runCli(["merge", configFile, join(root, "out", "dry"), "--dry-run"], { cwd: root });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: .*dry\.yml:5: slices\.0\.residual_weight: ignored/m);
    expect(result.stdout).toMatch(/ok: slerp would write \d+ tensors .*; 1 warning\(s\)/);
  });

  it("model references as mappings, as mergekit serialises ModelReference: {model: {path, revision}, lora: {path}}", async () => {
    const mapping = await merge(`models:
  - model: {model: {path: a}}
    parameters: {weight: 0.5}
  - model: {model: b}
    parameters: {weight: 0.5}
merge_method: linear
base_model: {model: {path: a, revision: null}, lora: null}
`);
    const plain = await merge(`models:\n  - {model: a, parameters: {weight: 0.5}}\n  - {model: b, parameters: {weight: 0.5}}\nmerge_method: linear\nbase_model: a\n`);
    expect(mapping.weights.equals(plain.weights)).toBe(true);
    const parsed = parseMergeConfig(`models:\n  - model: {model: {path: org/m, revision: v1}, lora: {path: org/l, revision: main}}\nmerge_method: linear\n`, "m.yml");
    expect(parsed.models![0]!.model).toBe("org/m@v1+org/l@main");
  });

  it("what a mapping cannot carry is refused at its line: override_architecture, a path with '+' or '@'", () => {
    const parse = (model: string) => () => parseMergeConfig(`models:\n  - model: ${model}\nmerge_method: linear\n`, "m.yml");
    expect(parse("{model: {path: a}, override_architecture: MistralForCausalLM}")).toThrow(
      /m\.yml:2: models\.0\.model\.override_architecture: mergeval reads the architecture from the tensor names and cannot override it/,
    );
    expect(parse("{model: {path: 'dir@2'}}")).toThrow(/m\.yml:2: models\.0\.model\.model\.path: "dir@2" holds "\+" or "@"/);
    expect(parse("{model: {path: a}, lorra: {path: b}}")).toThrow(/m\.yml:2: models\.0\.model\.lorra: unknown key — did you mean "lora"\?/);
  });

  it("several YAML documents (mergekit-multi) are still refused with mergeval's own message", () => {
    expect(() => parseMergeConfig(`${SLICES}---\n${SLICES}`, "multi.yml")).toThrow(/multi\.yml:\d+: holds 2 YAML documents \(separated by ---\); mergeval reads one recipe per file/);
  });
});
