import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExperiment, type Experiment } from "../../src/experiment/load.ts";
import { preflight, renderPreflight, type PreflightRow } from "../../src/experiment/preflight.ts";

const RT = resolve("datasets/aya-redteaming-sample.jsonl"); // 3 prompts per language, ids = line numbers 1…18
const GE = resolve("datasets/dolly-200-sample.jsonl"); // 2 prompts per language, ids 1…12
const RT_NAME = "aya-redteaming-sample";
const GE_NAME = "dolly-200-sample";
const SIX = ["en", "hi", "fr", "es", "ar", "ru"];
const ENDPOINT = "http://127.0.0.1:9/v1"; // never contacted: a preflight sends nothing

const OFFLINE_JUDGES = "judges: { harm: { name: refusal }, preference: { name: chrf } }";
const LLM_JUDGES = `judges:
  harm: { name: llm-harm, endpoint: ${ENDPOINT}, model: judge-m }
  preference: { name: llm-pairwise, endpoint: ${ENDPOINT}, model: judge-m }`;

let dir: string;
let count = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-preflight-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Options {
  languages?: string;
  limit?: number;
  judges?: string;
  /** Extra model lines (under models:). */
  models?: string[];
  /** Extra top-level lines. */
  extra?: string[];
}

/**
 * The demo's design: base, three data mixes (two of them the experts), a linear merge and a two-point sweep —
 * 7 models. Loaded with its own run folder.
 */
async function demoLike(o: Options = {}): Promise<Experiment> {
  const n = ++count;
  const M = join(dir, "models");
  const text = [
    `name: pf-${n}`,
    `languages: ${o.languages ?? "[en, hi, fr, es, ar, ru]"}`,
    `datasets: { redteam: ${RT}, general: ${GE} }`,
    ...(o.limit !== undefined ? [`limit: ${o.limit}`] : []),
    "models:",
    `  base: { path: ${M}/base, role: base }`,
    `  general: { path: ${M}/general, role: [baseline, expert], safety_mix: 0 }`,
    `  mix15: { path: ${M}/mix15, role: baseline, safety_mix: 15, reference: true }`,
    `  safety: { path: ${M}/safety, role: [baseline, expert], safety_mix: 100 }`,
    ...(o.models ?? []),
    "merges:",
    "  linear: { recipe: { merge_method: linear, models: [{ model: general, parameters: { weight: 0.7 } }, { model: safety, parameters: { weight: 0.3 } }] } }",
    "  linear-safety:",
    "    recipe: { merge_method: linear, models: [{ model: general, parameters: { weight: '${1-w}' } }, { model: safety, parameters: { weight: '${w}' } }] }",
    "    sweep: { w: [0.1, 0.9] }",
    "generation: { max_tokens: 24, temperature: 0 }",
    o.judges ?? OFFLINE_JUDGES,
    ...(o.extra ?? []),
    "",
  ].join("\n");
  const file = join(dir, `pf-${n}.yml`);
  await writeFile(file, text);
  return loadExperiment(file, { runDir: join(dir, `run-${n}`) });
}

const row = (language: string, generations: number, toGenerate: number, judgeCalls: number, tokens: number): PreflightRow => ({ language, generations, toGenerate, judgeCalls, tokens });
const byLanguage = (rows: PreflightRow[]) => Object.fromEntries(rows.map((r) => [r.language, r]));

/** A generation record with the fields preflight reads (plus a few a real one has). */
function record(dataset: string, language: string, id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    key: `${dataset}-${language}-${id}`,
    status: "done",
    model: "m",
    fingerprint: "f",
    dataset,
    kind: dataset === RT_NAME ? "aya-redteaming" : "dolly-200",
    language,
    id,
    prompt: "p",
    messages: [{ role: "user", content: "p" }],
    decoding: { maxTokens: 24, temperature: 0 },
    output: "o",
    attempts: 1,
    latencyMs: 1,
    time: "2025-01-01T00:00:00.000Z",
    ...extra,
  });
}

async function writeGenerations(e: Experiment, model: string, lines: string[]): Promise<void> {
  await mkdir(join(e.runDir, "generations"), { recursive: true });
  await writeFile(join(e.runDir, "generations", `${model}.jsonl`), lines.join("\n") + "\n");
}

describe("preflight: counts with offline judges", () => {
  it("needs models × prompts generations per language (7 × (3 + 2) = 35), no judge calls, no tokens", async () => {
    const e = await demoLike();
    expect(e.models.map((m) => m.name)).toEqual(["base", "general", "mix15", "safety", "linear", "linear-safety-w0.1", "linear-safety-w0.9"]);
    const p = await preflight(e);
    expect(p.rows).toEqual(SIX.map((l) => row(l, 35, 35, 0, 0)));
    expect(p.total).toEqual(row("all", 210, 210, 0, 0));
    expect(p.merges).toEqual([
      { name: "linear", method: "linear", upToDate: false },
      { name: "linear-safety-w0.1", method: "linear", upToDate: false },
      { name: "linear-safety-w0.9", method: "linear", upToDate: false },
    ]);
  });

  it("takes the first `limit` prompts of each language: limit 1 gives 7 × (1 + 1) = 14", async () => {
    const p = await preflight(await demoLike({ limit: 1 }));
    expect(p.rows).toEqual(SIX.map((l) => row(l, 14, 14, 0, 0)));
    expect(p.total).toEqual(row("all", 84, 84, 0, 0));
  });

  it("caps each dataset separately: limit 2 gives 7 × (2 + 2) = 28; a limit above the counts changes nothing", async () => {
    const two = await preflight(await demoLike({ limit: 2 }));
    expect(two.rows.map((r) => r.generations)).toEqual([28, 28, 28, 28, 28, 28]);
    const many = await preflight(await demoLike({ limit: 50 }));
    expect(many.total.generations).toBe(210);
  });

  it("has one row per experiment language, in the file's order", async () => {
    const p = await preflight(await demoLike({ languages: "[ar, English]", limit: 1 }));
    expect(p.rows).toEqual([row("ar", 14, 14, 0, 0), row("en", 14, 14, 0, 0)]);
    expect(p.total).toEqual(row("all", 28, 28, 0, 0));
  });
});

describe("preflight: LLM judges on an endpoint", () => {
  it("counts models × red-team harm calls and 2 × (models − 1) × general preference calls", async () => {
    const e = await demoLike({ judges: LLM_JUDGES });
    const p = await preflight(e);
    // harm 7 × 3 = 21, preference 2 × 6 × 2 = 24 per language.
    expect(p.rows.map((r) => r.judgeCalls)).toEqual([45, 45, 45, 45, 45, 45]);
    expect(p.total.judgeCalls).toBe(270);
    expect(p.rows.map((r) => r.generations)).toEqual([35, 35, 35, 35, 35, 35]);
    // Tokens: the models are local, so only the judges count. A harm call sends ceil(bytes/4) of the prompt + one
    // completion cap (24) + 400 overhead + 512 reply; a preference call two completion caps.
    // en red-team prompts are 51, 48, 59 bytes → 13 + 12 + 15 = 40; harm: 7 × (40 + 3 × 936) = 19936.
    // en general prompts are 55, 20 bytes → 14 + 5 = 19; preference: 6 × 2 × (19 + 2 × 960) = 23268.
    const rows = byLanguage(p.rows);
    expect(rows.en!.tokens).toBe(19936 + 23268);
    // hi: red-team 139, 155, 157 bytes → 35 + 39 + 40 = 114; general 149, 65 → 38 + 17 = 55.
    expect(rows.hi!.tokens).toBe(7 * (114 + 2808) + 12 * (55 + 1920));
    // All six: red-team estimates sum to 389, general to 198.
    expect(p.total.tokens).toBe(7 * (389 + 6 * 2808) + 12 * (198 + 6 * 1920));
    expect(p.total.tokens).toBe(261275);
  });

  it("counts one preference call per prompt with single_order, and scales with limit", async () => {
    const judges = `judges:
  harm: { name: llm-harm, endpoint: ${ENDPOINT}, model: judge-m }
  preference: { name: llm-pairwise, endpoint: ${ENDPOINT}, model: judge-m, single_order: true }`;
    const p = await preflight(await demoLike({ judges, limit: 1 }));
    // harm 7 × 1 = 7, preference 1 × 6 × 1 = 6 per language.
    expect(p.rows.map((r) => r.judgeCalls)).toEqual([13, 13, 13, 13, 13, 13]);
    expect(p.total.judgeCalls).toBe(78);
    // en: harm 7 × (13 + 936); preference 6 × (14 + 960).
    expect(byLanguage(p.rows).en!.tokens).toBe(7 * 949 + 6 * 974);
  });

  it("counts harm calls only when the preference judge is offline", async () => {
    const judges = `judges:\n  harm: { name: llm-harm, endpoint: ${ENDPOINT}, model: judge-m }\n  preference: { name: chrf }`;
    const p = await preflight(await demoLike({ judges, languages: "[en]" }));
    expect(p.rows).toEqual([row("en", 35, 35, 21, 19936)]);
  });
});

describe("preflight: endpoint models", () => {
  it("estimates tokens only for a model on an endpoint: prompt estimate + the completion cap per generation", async () => {
    const e = await demoLike({ models: [`  api: { endpoint: ${ENDPOINT}, model: served, role: expert }`] });
    expect(e.models).toHaveLength(8);
    const p = await preflight(e);
    const rows = byLanguage(p.rows);
    // en: red-team 40 + 3 × 24, general 19 + 2 × 24.
    expect(rows.en).toEqual(row("en", 40, 40, 0, 112 + 67));
    // hi: red-team 114 + 72, general 55 + 48.
    expect(rows.hi).toEqual(row("hi", 40, 40, 0, 186 + 103));
    // all: 389 + 198 + 30 × 24.
    expect(p.total).toEqual(row("all", 240, 240, 0, 1307));
  });
});

describe("preflight: what the run folder already holds", () => {
  it("drops samples with done records of the same decoding from toGenerate", async () => {
    const e = await demoLike();
    await writeGenerations(e, "general", [
      record(RT_NAME, "en", "1"), // counts
      record(GE_NAME, "en", "1"), // counts
      record(GE_NAME, "hi", "3"), // counts (hi's first Dolly prompt)
      record(RT_NAME, "en", "3", { decoding: { maxTokens: 32, temperature: 0 } }), // another max_tokens
      record(RT_NAME, "en", "2", { decoding: { maxTokens: 24, temperature: 0.7 } }), // another temperature
      record(GE_NAME, "en", "2", { status: "error", error: "timeout", output: undefined }), // failed: redone
      record(RT_NAME, "fr", "1"), // no such sample (id 1 is English)
      record("other-set", "en", "2"), // another dataset
      '{"status":"done","dataset":"aya-redteaming-sam', // a torn last line
    ]);
    const p = await preflight(e);
    const rows = byLanguage(p.rows);
    expect(rows.en).toEqual(row("en", 35, 33, 0, 0));
    expect(rows.hi).toEqual(row("hi", 35, 34, 0, 0));
    for (const l of ["fr", "es", "ar", "ru"]) expect(rows[l]).toEqual(row(l, 35, 35, 0, 0));
    expect(p.total).toEqual(row("all", 210, 207, 0, 0));
  });

  it("counts what a limited run needs: with limit 1 only the first prompts matter", async () => {
    const e = await demoLike({ limit: 1 });
    await writeGenerations(e, "base", [record(RT_NAME, "en", "1"), record(GE_NAME, "en", "1"), record(RT_NAME, "en", "2"), record(GE_NAME, "hi", "3"), record(GE_NAME, "hi", "4")]);
    const rows = byLanguage((await preflight(e)).rows);
    // en: both first prompts done (red-team 2 is beyond the limit); hi: Dolly 3 done (4 is beyond the limit).
    expect(rows.en).toEqual(row("en", 14, 12, 0, 0));
    expect(rows.hi).toEqual(row("hi", 14, 13, 0, 0));
  });

  it("keeps a merge's generations only while its folder was made from the same recipe", async () => {
    const e = await demoLike({ languages: "[en]" });
    const linear = e.models.find((m) => m.name === "linear")!.merge!;
    const stale = e.models.find((m) => m.name === "linear-safety-w0.1")!.merge!;
    await mkdir(linear.outDir, { recursive: true });
    await writeFile(join(linear.outDir, "mergekit_config.yml"), linear.recipeText);
    await mkdir(stale.outDir, { recursive: true });
    await writeFile(join(stale.outDir, "mergekit_config.yml"), stale.recipeText.replace("0.9", "0.8"));
    await writeGenerations(e, "linear", [record(RT_NAME, "en", "1"), record(RT_NAME, "en", "2")]);
    await writeGenerations(e, "linear-safety-w0.1", [record(RT_NAME, "en", "1"), record(RT_NAME, "en", "2")]);
    const p = await preflight(e);
    expect(p.merges).toEqual([
      { name: "linear", method: "linear", upToDate: true },
      { name: "linear-safety-w0.1", method: "linear", upToDate: false },
      { name: "linear-safety-w0.9", method: "linear", upToDate: false },
    ]);
    // Only linear's two records count: the stale merge will be remade, so its generations are redone.
    expect(p.rows).toEqual([row("en", 35, 33, 0, 0)]);
  });

  it("subtracts the tokens of an endpoint model's generations already done", async () => {
    const e = await demoLike({ languages: "[en]", models: [`  api: { endpoint: ${ENDPOINT}, model: served, role: expert }`] });
    await writeGenerations(e, "api", [record(RT_NAME, "en", "1"), record(GE_NAME, "en", "2")]);
    // 179 − (13 + 24) − (5 + 24) = 113.
    expect((await preflight(e)).rows).toEqual([row("en", 40, 38, 0, 113)]);
  });

  it("does not count records made with another top_p as done", async () => {
    const e = await demoLike({ languages: "[en]" });
    e.spec.generation.top_p = 0.9;
    await writeGenerations(e, "general", [record(RT_NAME, "en", "1", { decoding: { maxTokens: 24, temperature: 0, topP: 0.5 } })]);
    expect((await preflight(e)).rows).toEqual([row("en", 35, 35, 0, 0)]);
  });
});

describe("renderPreflight", () => {
  it("prints the plan and the table, and warns when the judge calls exceed the budget", async () => {
    const e = await demoLike({ judges: LLM_JUDGES, extra: ["budget: { judge_calls: 100 }"] });
    const lines = renderPreflight(e, await preflight(e));
    expect(lines[0]).toBe(`experiment ${e.spec.name} → ${e.runDir} (dry run: nothing is merged, generated or judged)`);
    expect(lines).toContain("models: base (base), general (baseline+expert), mix15 (baseline), safety (baseline+expert), linear (merge), linear-safety-w0.1 (merge), linear-safety-w0.9 (merge)");
    expect(lines).toContain("merges: linear (linear), linear-safety-w0.1 (linear), linear-safety-w0.9 (linear)");
    expect(lines.some((l) => /^judges: harm llm-harm:\S+, preference llm-pairwise:\S+$/.test(l))).toBe(true);
    expect(lines).toContain("en\t35\t35\t45\t43204");
    expect(lines).toContain("all\t210\t210\t270\t261275");
    expect(lines).toContain("note: this exceeds budget.judge_calls (100); the run would stop there.");
    expect(lines.some((l) => l.includes("budget.tokens"))).toBe(false);
  });

  it("does not warn at exactly the budget, and warns about tokens separately", async () => {
    const e = await demoLike({ judges: LLM_JUDGES, extra: ["budget: { judge_calls: 270, tokens: 261274 }"] });
    const lines = renderPreflight(e, await preflight(e));
    expect(lines.some((l) => l.includes("budget.judge_calls"))).toBe(false);
    expect(lines).toContain("note: this exceeds budget.tokens (261274); the run would stop there.");
  });

  it("warns about nothing without a budget, or with offline judges under any budget", async () => {
    const none = await demoLike({ judges: LLM_JUDGES });
    expect(renderPreflight(none, await preflight(none)).some((l) => l.startsWith("note:"))).toBe(false);
    const offline = await demoLike({ extra: ["budget: { judge_calls: 0, tokens: 0 }"] });
    const lines = renderPreflight(offline, await preflight(offline));
    expect(lines).toContain("merges: linear (linear), linear-safety-w0.1 (linear), linear-safety-w0.9 (linear)");
    expect(lines.some((l) => l.startsWith("note:"))).toBe(false);
  });

  it("marks merges that are up to date", async () => {
    const e = await demoLike({ languages: "[en]", limit: 1 });
    const linear = e.models.find((m) => m.name === "linear")!.merge!;
    await mkdir(linear.outDir, { recursive: true });
    await writeFile(join(linear.outDir, "mergekit_config.yml"), linear.recipeText);
    const lines = renderPreflight(e, await preflight(e));
    expect(lines).toContain("merges: linear (linear, up to date), linear-safety-w0.1 (linear), linear-safety-w0.9 (linear)");
  });
});
