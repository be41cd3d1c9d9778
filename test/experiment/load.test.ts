import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { missingFiles } from "../../src/experiment/checks.ts";
import { loadExperiment, type Experiment } from "../../src/experiment/load.ts";
import { FAMILY, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { parseMergeConfig } from "../../src/merge/config.ts";
import { expectInputError } from "../expect-input-error.ts";

const RT = resolve("datasets/aya-redteaming-sample.jsonl");
const GE = resolve("datasets/dolly-200-sample.jsonl");

let dir: string;
let M: string; // the models folder (absolute)
let count = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-load-"));
  M = join(dir, "models");
  await mkdir(join(dir, "merges"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes an experiment file into the temp folder; returns its path. */
async function experimentFile(text: string): Promise<string> {
  const file = join(dir, `exp-${++count}.yml`);
  await writeFile(file, text);
  return file;
}

/**
 * The minimal valid experiment, one line per entry so line numbers can be worked out by hand:
 *  1 name … 6 models, 7 base, 8 general, 9 mix15, 10 safety, 11 judges, 12 harm, 13 preference.
 */
function baseLines(): string[] {
  return [
    "name: study",
    "languages: [en, hi]",
    "datasets:",
    `  redteam: ${RT}`,
    `  general: ${GE}`,
    "models:",
    `  base: { path: ${M}/base, role: base }`,
    `  general: { path: ${M}/general, role: [baseline, expert], safety_mix: 0 }`,
    `  mix15: { path: ${M}/mix15, role: baseline, safety_mix: 15, reference: true }`,
    `  safety: { path: ${M}/safety, role: [baseline, expert], safety_mix: 100 }`,
    "judges:",
    "  harm: { name: refusal }",
    "  preference: { name: chrf }",
  ];
}

/** The minimal experiment with line `n` (1-based) replaced, and extra lines appended. */
async function variant(replace: Record<number, string>, ...append: string[]): Promise<string> {
  const lines = baseLines();
  for (const [n, text] of Object.entries(replace)) lines[Number(n) - 1] = text;
  return experimentFile([...lines, ...append].join("\n") + "\n");
}

const names = (e: Experiment) => e.models.map((m) => m.name);
const model = (e: Experiment, name: string) => e.models.find((m) => m.name === name)!;

describe("loadExperiment: a valid experiment", () => {
  let file: string;
  let tiesFile: string;
  let e: Experiment;

  beforeAll(async () => {
    tiesFile = join(dir, "merges", "ties.yml");
    await writeFile(
      tiesFile,
      [
        "merge_method: ties",
        "base_model: base",
        "models:",
        "  - model: general",
        "    parameters: { weight: 0.5, density: 0.5 }",
        "  - model: safety",
        "    parameters: { weight: 0.5, density: 0.5 }",
        "  - model: /elsewhere/lang-en",
        "    parameters: { weight: 0.2, density: 0.5 }",
        "parameters: { normalize: true }",
        "dtype: float32",
        "",
      ].join("\n"),
    );
    file = await experimentFile(`name: study-a
languages: [en, Hindi, arb]
datasets: { redteam: ${RT}, general: ${GE} }
seed: 7
models:
  zeta: { path: rel/zeta, role: expert }
  safety: { path: ${M}/safety, role: [baseline, expert], safety_mix: 100 }
  api: { endpoint: http://127.0.0.1:9/v1, model: served-expert, role: expert, api_key_env: API_KEY }
  mix15: { path: ${M}/mix15, role: baseline, safety_mix: 15, reference: true, paper_row: "15% mix" }
  general: { path: ${M}/general, role: [baseline, expert], safety_mix: 0 }
  base: { path: ${M}/base, role: base }
merges:
  linear:
    recipe:
      merge_method: linear
      models:
        - { model: general, parameters: { weight: 0.7 } }
        - { model: safety, parameters: { weight: 0.3 } }
        - { model: /elsewhere/lang-en, parameters: { weight: 0.1 } }
      dtype: float32
  ties:
    recipe: ${tiesFile}
    paper_row: TIES
  lin-safety:
    recipe:
      merge_method: linear
      models:
        - { model: general, parameters: { weight: "\${1-w}" } }
        - { model: safety, parameters: { weight: "\${w}" } }
    sweep: { w: [0.3, 0.9] }
  served:
    recipe: { merge_method: linear, models: [{ model: zeta, parameters: { weight: 1 } }] }
    serve: { endpoint: [http://127.0.0.1:9/v1, http://127.0.0.1:10/v1], model: served-merge }
judges: { harm: { name: refusal }, preference: { name: chrf } }
`);
    e = await loadExperiment(file);
  });

  it("orders models base, baselines by safety mix, experts in file order, then merges in file order", () => {
    expect(names(e)).toEqual(["base", "general", "mix15", "safety", "zeta", "api", "linear", "ties", "lin-safety-w0.3", "lin-safety-w0.9", "served"]);
    expect(e.models.map((m) => m.roles)).toEqual([
      ["base"],
      ["baseline", "expert"],
      ["baseline"],
      ["baseline", "expert"],
      ["expert"],
      ["expert"],
      ["merge"],
      ["merge"],
      ["merge"],
      ["merge"],
      ["merge"],
    ]);
    expect(e.base).toBe("base");
    expect(e.reference).toBe("mix15");
    expect(e.languages).toEqual(["en", "hi", "ar"]);
    expect(e.file).toBe(file);
    expect(e.spec.seed).toBe(7);
  });

  it("keeps safety mixes, paper rows and the sources of local and endpoint models", () => {
    expect(model(e, "general").safetyMix).toBe(0);
    expect(model(e, "safety").safetyMix).toBe(100);
    expect(model(e, "zeta")).not.toHaveProperty("safetyMix");
    expect(model(e, "mix15").paperRow).toBe("15% mix");
    expect(model(e, "ties").paperRow).toBe("TIES");
    // A local path as written for reports, resolved for loading.
    expect(model(e, "zeta").source).toBe("rel/zeta");
    expect(model(e, "zeta").backend).toEqual({ kind: "onnx", dir: resolve("rel/zeta") });
    expect(model(e, "api").source).toBe("http://127.0.0.1:9/v1 served-expert");
    expect(model(e, "api").backend).toEqual({ kind: "openai", baseUrls: ["http://127.0.0.1:9/v1"], model: "served-expert", apiKeyEnv: "API_KEY" });
    expect(e.models.filter((m) => m.merge).map((m) => m.name)).toEqual(["linear", "ties", "lin-safety-w0.3", "lin-safety-w0.9", "served"]);
  });

  it("puts each merge under <runDir>/merges/<name>, runDir defaulting to runs/<name>", () => {
    expect(e.runDir).toBe(join("runs", "study-a"));
    for (const name of ["linear", "ties", "lin-safety-w0.3"]) {
      const m = model(e, name);
      expect(m.merge!.outDir).toBe(join("runs", "study-a", "merges", name));
      expect(m.backend).toEqual({ kind: "onnx", dir: m.merge!.outDir });
      expect(m.source).toBe(m.merge!.outDir);
    }
    // A served merge is still merged into its folder, but generated from its endpoint.
    const served = model(e, "served");
    expect(served.merge!.outDir).toBe(join("runs", "study-a", "merges", "served"));
    expect(served.backend).toEqual({ kind: "openai", baseUrls: ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"], model: "served-merge" });
  });

  it("respects a run folder override", async () => {
    const other = join(dir, "elsewhere-run");
    const o = await loadExperiment(file, { runDir: other });
    expect(o.runDir).toBe(other);
    expect(model(o, "linear").merge!.outDir).toBe(join(other, "merges", "linear"));
    expect(model(o, "lin-safety-w0.9").backend).toEqual({ kind: "onnx", dir: join(other, "merges", "lin-safety-w0.9") });
  });

  it("writes recipes as mergekit YAML: experiment model names become their paths, other paths stay", () => {
    const linear = model(e, "linear").merge!;
    expect(linear.method).toBe("linear");
    expect(linear.recipeText.split("\n")[0]).toBe(`# linear: written by mergeval run from ${file} (seed 7)`);
    expect(parseYaml(linear.recipeText)).toEqual({
      merge_method: "linear",
      models: [
        { model: `${M}/general`, parameters: { weight: 0.7 } },
        { model: `${M}/safety`, parameters: { weight: 0.3 } },
        { model: "/elsewhere/lang-en", parameters: { weight: 0.1 } },
      ],
      dtype: "float32",
    });
    expect(parseMergeConfig(linear.recipeText, "linear.yml").models).toHaveLength(3);
    expect(linear).not.toHaveProperty("point");

    // A relative model path is written as given (mergekit resolves it against the same working directory).
    expect(parseYaml(model(e, "served").merge!.recipeText)).toEqual({ merge_method: "linear", models: [{ model: "rel/zeta", parameters: { weight: 1 } }] });
  });

  it("reads a recipe file from a merges folder, resolving base_model too", () => {
    const ties = model(e, "ties").merge!;
    expect(ties.method).toBe("ties");
    expect(ties.recipeText).toContain("(seed 7)");
    expect(ties.recipeText.startsWith("# ties: ")).toBe(true);
    expect(parseYaml(ties.recipeText)).toEqual({
      merge_method: "ties",
      base_model: `${M}/base`,
      models: [
        { model: `${M}/general`, parameters: { weight: 0.5, density: 0.5 } },
        { model: `${M}/safety`, parameters: { weight: 0.5, density: 0.5 } },
        { model: "/elsewhere/lang-en", parameters: { weight: 0.2, density: 0.5 } },
      ],
      parameters: { normalize: true },
      dtype: "float32",
    });
  });

  it("makes each sweep member a merge of its own, with its grid point and filled-in weights", () => {
    const w3 = model(e, "lin-safety-w0.3").merge!;
    const w9 = model(e, "lin-safety-w0.9").merge!;
    expect(w3.point).toEqual({ w: 0.3 });
    expect(w9.point).toEqual({ w: 0.9 });
    expect(w3.recipeText.split("\n")[0]).toBe(`# lin-safety-w0.3: written by mergeval run from ${file} (seed 7)`);
    const weights = (text: string) => (parseYaml(text) as { models: { model: string; parameters: { weight: number } }[] }).models.map((m) => [m.model, m.parameters.weight]);
    expect(weights(w3.recipeText)).toEqual([
      [`${M}/general`, 0.7],
      [`${M}/safety`, 0.3],
    ]);
    // 1 − 0.9 written as 0.1, not 0.09999999999999998.
    expect(weights(w9.recipeText)).toEqual([
      [`${M}/general`, 0.1],
      [`${M}/safety`, 0.9],
    ]);
    expect(w9.recipeText).not.toContain("0.0999");
  });

  it("creates the offline judges, which make no endpoint calls", () => {
    expect(e.judges.harm).toMatchObject({ name: "refusal", kind: "harm", calls: 0 });
    expect(e.judges.preference).toMatchObject({ name: "chrf", kind: "preference", calls: 0 });
  });
});

describe("loadExperiment: LLM judges", () => {
  it("creates llm-harm (1 call) and llm-pairwise (2 calls: both orders) on their endpoints", async () => {
    const file = await variant({
      12: "  harm: { name: llm-harm, endpoint: http://127.0.0.1:9/v1, model: judge-m }",
      13: "  preference: { name: llm-pairwise, endpoint: [http://127.0.0.1:9/v1, http://127.0.0.1:10/v1], model: judge-m }",
    });
    const e = await loadExperiment(file);
    expect(e.judges.harm).toMatchObject({ name: "llm-harm", kind: "harm", calls: 1 });
    expect(e.judges.preference).toMatchObject({ name: "llm-pairwise", kind: "preference", calls: 2 });
  });

  it("makes llm-pairwise one call per prompt with single_order", async () => {
    const file = await variant({ 13: "  preference: { name: llm-pairwise, endpoint: http://127.0.0.1:9/v1, model: judge-m, single_order: true }" });
    const e = await loadExperiment(file);
    expect(e.judges.preference).toMatchObject({ name: "llm-pairwise", kind: "preference", calls: 1 });
    expect(e.judges.harm.calls).toBe(0);
  });
});

describe("loadExperiment: errors name the file, the line (for schema and YAML faults) and the key", () => {
  it("rejects a missing experiment file", async () => {
    const missing = join(dir, "nope.yml");
    await expectInputError(loadExperiment(missing), missing, "cannot read experiment file", "ENOENT");
  });

  it("rejects invalid YAML", async () => {
    const file = await variant({}, "name: again"); // line 14: a duplicate key
    await expectInputError(loadExperiment(file), file, "invalid YAML", "unique");
  });

  it("names the line of invalid YAML", async () => {
    const file = await variant({}, "name: again");
    await expectInputError(loadExperiment(file), `${file}:14: invalid YAML`);
  });

  it("rejects an unknown top-level key, at the key's own line", async () => {
    const file = await variant({}, "colour: blue"); // appended as line 14
    await expectInputError(loadExperiment(file), `${file}:14: colour: unknown key`);
  });

  it("rejects an unknown key in a model, at the model's line", async () => {
    const file = await variant({ 9: `  mix15: { path: ${M}/mix15, role: baseline, safety_mix: 15, reference: true, colour: red }` });
    await expectInputError(loadExperiment(file), `${file}:9: models.mix15.colour: unknown key`);
  });

  it("rejects a model with both a path and an endpoint, or neither", async () => {
    const both = await variant({ 10: `  safety: { path: ${M}/safety, endpoint: http://127.0.0.1:9/v1, model: m, role: expert }` });
    await expectInputError(loadExperiment(both), `${both}:10: models.safety`);
    const neither = await variant({ 10: "  safety: { role: expert, safety_mix: 100 }" });
    await expectInputError(loadExperiment(neither), `${neither}:10: models.safety`);
  });

  it("rejects schema faults with their line: a bad name, a bad limit, a non-numeric sweep value", async () => {
    const badName = await variant({ 1: "name: my study" });
    await expectInputError(loadExperiment(badName), `${badName}:1: name: names use letters`);
    const limit = await variant({}, "limit: 0");
    await expectInputError(loadExperiment(limit), `${limit}:14: limit`);
    const sweep = await variant({}, "merges:", "  lin:", "    recipe: { merge_method: linear, models: [{ model: general }] }", "    sweep: { w: [0.1, heavy] }");
    await expectInputError(loadExperiment(sweep), `${sweep}:17: merges.lin.sweep.w.1`);
  });

  it("needs exactly one base", async () => {
    const none = await variant({ 7: `  base: { path: ${M}/base, role: expert }` });
    await expectInputError(loadExperiment(none), `${none}: models: exactly one model needs role: base (found none)`);
    const two = await variant({ 8: `  general: { path: ${M}/general, role: [base, baseline, expert], safety_mix: 0 }` });
    await expectInputError(loadExperiment(two), `${two}: models: exactly one model needs role: base (found base, general)`);
  });

  it("allows one reference, and only a baseline", async () => {
    const two = await variant({ 10: `  safety: { path: ${M}/safety, role: [baseline, expert], safety_mix: 100, reference: true }` });
    await expectInputError(loadExperiment(two), `${two}: models: only one model can be the reference (found mix15, safety)`);
    const notBaseline = await variant({ 9: `  mix15: { path: ${M}/mix15, role: expert, safety_mix: 15, reference: true }` });
    await expectInputError(loadExperiment(notBaseline), `${notBaseline}: models.mix15.reference: the reference must be a baseline`);
  });

  it("rejects an unknown language, naming its index", async () => {
    const file = await variant({ 2: "languages: [en, klingon]" });
    await expectInputError(loadExperiment(file), `${file}: languages.1: "klingon" is not a language mergeval knows`);
  });

  it("rejects an unknown judge, listing the judges", async () => {
    const file = await variant({ 12: "  harm: { name: gpt-judge }" });
    const err = await expectInputError(loadExperiment(file), `${file}: judges.harm.name: "gpt-judge" is not a judge`);
    for (const name of ["llm-harm", "llama-guard", "llm-pairwise", "refusal", "chrf"]) expect(err.message).toContain(name);
  });

  it("rejects a judge of the wrong kind in a slot", async () => {
    const harmAsPreference = await variant({ 13: "  preference: { name: refusal }" });
    await expectInputError(loadExperiment(harmAsPreference), `${harmAsPreference}: judges.preference.name: refusal is a harm judge, not a preference judge`);
    const preferenceAsHarm = await variant({ 12: "  harm: { name: chrf }" });
    await expectInputError(loadExperiment(preferenceAsHarm), `${preferenceAsHarm}: judges.harm.name: chrf is a preference judge, not a harm judge`);
  });

  it("needs a judge's endpoint and model together, and both for an LLM judge", async () => {
    const noModel = await variant({ 12: "  harm: { name: llm-harm, endpoint: http://127.0.0.1:9/v1 }" });
    await expectInputError(loadExperiment(noModel), `${noModel}:12: judges.harm: give both endpoint and model, or neither`);
    const noEndpoint = await variant({ 13: "  preference: { name: llm-pairwise, model: judge-m }" });
    await expectInputError(loadExperiment(noEndpoint), `${noEndpoint}:13: judges.preference: give both endpoint and model, or neither`);
    const neither = await variant({ 12: "  harm: { name: llm-harm }" });
    await expectInputError(loadExperiment(neither), `${neither}: judges.harm: llm-harm needs endpoint and model`);
  });

  it("rejects an unknown paper table, listing the tables", async () => {
    const file = await variant({}, "paper: table9");
    await expectInputError(loadExperiment(file), `${file}: paper: unknown table "table9"`, "table1-dpo", "table1-sft");
  });

  it("rejects a merge named like a model, or a sweep member named like another merge", async () => {
    const model = await variant({}, "merges:", "  general:", "    recipe: { merge_method: linear, models: [{ model: safety }] }");
    await expectInputError(loadExperiment(model), `${model}: merges.general: the merge name "general" is taken by another model or merge`);
    const member = await variant(
      {},
      "merges:",
      "  lin-w0.5:",
      "    recipe: { merge_method: linear, models: [{ model: safety }] }",
      "  lin:",
      "    recipe: { merge_method: linear, models: [{ model: safety, parameters: { weight: '${w}' } }] }",
      "    sweep: { w: [0.5] }",
    );
    await expectInputError(loadExperiment(member), `${member}: merges.lin: the merge name "lin-w0.5" is taken`);
    const repeated = await variant({}, "merges:", "  lin:", "    recipe: { merge_method: linear, models: [{ model: safety }] }", "    sweep: { t: [0.5, 0.5] }");
    await expectInputError(loadExperiment(repeated), `${repeated}: merges.lin: the merge name "lin-t0.5" is taken`);
  });

  it("rejects a sweep placeholder naming no sweep variable, naming the merge", async () => {
    const file = await variant(
      {},
      "merges:",
      "  lin:",
      "    recipe: { merge_method: linear, models: [{ model: safety, parameters: { weight: '${v}' } }] }",
      "    sweep: { w: [0.5] }",
    );
    await expectInputError(loadExperiment(file), `${file}: merges.lin: \${v} is not a sweep variable (w)`);
  });

  it("rejects a merge of a model served by an endpoint", async () => {
    const lines = baseLines();
    lines.splice(10, 0, "  api: { endpoint: http://127.0.0.1:9/v1, model: m, role: expert }"); // after safety
    const viaModel = await experimentFile([...lines, "merges:", "  m:", "    recipe: { merge_method: linear, models: [{ model: general }, { model: api }] }", ""].join("\n"));
    await expectInputError(loadExperiment(viaModel), `${viaModel}: merges.m: "api" is served by an endpoint`);
    const viaBase = await experimentFile([...lines, "merges:", "  m:", "    recipe: { merge_method: ties, base_model: api, models: [{ model: general }] }", ""].join("\n"));
    await expectInputError(loadExperiment(viaBase), `${viaBase}: merges.m: "api" is served by an endpoint`);
  });

  it("rejects an unreadable recipe file, and a recipe file with its own line-numbered fault", async () => {
    const missing = join(dir, "merges", "missing.yml");
    const file = await variant({}, "merges:", "  m:", `    recipe: ${missing}`);
    await expectInputError(loadExperiment(file), `${file}: merges.m.recipe: cannot read ${missing}`);

    const bad = join(dir, "merges", "bad.yml");
    await writeFile(bad, "merge_method: linear\nmodels:\n  - model: general\n    paramters: { weight: 1 }\n");
    const withBad = await variant({}, "merges:", "  m:", `    recipe: ${bad}`);
    await expectInputError(loadExperiment(withBad), `${bad}:4: models.0.paramters: unknown key — did you mean "parameters"?`);
  });
});

describe("seeds: a random merge repeated over seeds", () => {
  it("makes one merge per seed, each recipe naming its seed, grouped for the report", async () => {
    const file = await variant({}, "merges:", "  dare:", "    recipe: { merge_method: dare_ties, base_model: base, models: [{ model: general, parameters: { weight: 1, density: 0.5 } }] }", "    seeds: [0, 7]");
    const e = await loadExperiment(file);
    expect(names(e).slice(-2)).toEqual(["dare-s0", "dare-s7"]);
    expect(model(e, "dare-s7").merge).toMatchObject({ seed: 7, seedGroup: "dare", method: "dare_ties" });
    expect(model(e, "dare-s7").merge!.recipeText.split("\n")[0]).toBe(`# dare-s7: written by mergeval run from ${file} (seed 7)`);
  });

  it("refuses seeds on a method that draws nothing at random", async () => {
    const file = await variant({}, "merges:", "  lin:", "    recipe: { merge_method: linear, models: [{ model: general, parameters: { weight: 1 } }] }", "    seeds: [0, 1]");
    await expectInputError(loadExperiment(file), "merges.lin.seeds: linear draws nothing at random, so every seed gives the same merge (seeds are for dare_ties, dare_linear, della, della_linear, arcee_fusion)");
  });
});

describe("missingFiles", () => {
  it("lists a missing dataset file and a missing model folder, not endpoint models or merges", async () => {
    const models = join(dir, "family");
    await writeFixtureFamily(models, FAMILY.filter((m) => m.name === "base"));
    const missingSet = join(dir, "no-such-redteam.jsonl");
    const file = await experimentFile(`name: study-m
languages: [en]
datasets: { redteam: ${missingSet}, general: ${GE} }
models:
  base: { path: ${models}/base, role: base }
  general: { path: ${models}/general, role: expert }
  api: { endpoint: http://127.0.0.1:9/v1, model: m, role: expert }
merges:
  lin: { recipe: { merge_method: linear, models: [{ model: base }, { model: general }] } }
judges: { harm: { name: refusal }, preference: { name: chrf } }
`);
    const e = await loadExperiment(file);
    const missing = missingFiles(e);
    expect(missing).toHaveLength(2);
    expect(missing[0]).toContain(`datasets.redteam: not found: ${missingSet} — expected the Aya Red-teaming prompts`);
    expect(missing[1]).toContain(`models.general.path: not found: ${models}/general`);
  });

  it("lists nothing when everything is there, and skips model folders when fixtures will write them", async () => {
    const present = await variant({});
    await mkdir(M, { recursive: true });
    for (const name of ["base", "general", "mix15", "safety"]) await mkdir(join(M, name), { recursive: true });
    expect(missingFiles(await loadExperiment(present))).toEqual([]);

    const fixtures = await experimentFile(
      baseLines()
        .map((l) => l.replaceAll(`${M}/`, `${dir}/not-yet/`))
        .concat(`fixtures: ${dir}/not-yet`)
        .join("\n") + "\n",
    );
    expect(missingFiles(await loadExperiment(fixtures))).toEqual([]);
  });
});
