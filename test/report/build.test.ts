import { describe, expect, it } from "vitest";
import type { GenerationRecord } from "../../src/generate/index.ts";
import { chrfJudge } from "../../src/judge/chrf.ts";
import { refusalJudge } from "../../src/judge/refusal.ts";
import type { JudgmentRecord, LanguageScore } from "../../src/judge/run.ts";
import type { PreferenceJudge } from "../../src/judge/types.ts";
import { buildReport, type ReportInputs, type ReportModel } from "../../src/report/build.ts";
import { REPORT_SCHEMA_VERSION, type DeltaCell, type MetricsCell } from "../../src/report/types.ts";
import type { Interval } from "../../src/score/bootstrap.ts";

// Hand-made judge outputs: every number below is chosen, so the expected report values are worked by hand.

const iv = (estimate: number, low: number, high: number, withinNoise = low <= 0 && high >= 0): Interval => ({ estimate, low, high, withinNoise });
const NAN: Interval = { estimate: NaN, low: NaN, high: NaN, withinNoise: false };

/** A preference judge that only covers English and is not a proxy. */
const englishOnlyJudge: PreferenceJudge = {
  kind: "preference",
  name: "en-only",
  calls: 0,
  languages: ["en"],
  async compare() {
    return { winner: "tie" };
  },
};

// Deliberately not in display order: the report keeps the order given.
const MODELS: ReportModel[] = [
  { name: "slerp", roles: ["merge"], method: "slerp", point: { t: 0.5 }, source: "merges/slerp" },
  { name: "base", roles: ["base"], source: "models/base" },
  { name: "mix15", roles: ["baseline"], safetyMix: 15, source: "endpoint mix15" },
  { name: "mix0", roles: ["baseline", "expert"], safetyMix: 0, source: "models/mix0" },
];

const harmScores: LanguageScore[] = [
  // slerp
  { model: "slerp", language: "en", n: 2, unparsable: 0, rate: iv(0.5, 0, 1), relativeChange: iv(-50, -100, 0), vsMix: iv(2.5, -4, 9) },
  { model: "slerp", language: "hi", n: 1, unparsable: 1, rate: iv(0.5, NaN, NaN), relativeChange: iv(NaN, NaN, NaN) },
  {
    model: "slerp", language: "all", n: 4, unparsable: 1,
    rate: iv(0.25, 0.2, 0.3), relativeChange: iv(-37.5, -50, -25), vsMix: { estimate: -3, low: -5, high: -1, withinNoise: false },
  },
  // base: no change vs itself, no vsMix
  { model: "base", language: "en", n: 2, unparsable: 0, rate: iv(0.5, 0.1, 0.9) },
  { model: "base", language: "hi", n: 2, unparsable: 0, rate: iv(0.25, 0, 0.5) },
  { model: "base", language: "all", n: 4, unparsable: 0, rate: iv(0.4, 0.2, 0.6) },
  // mix15: the reference (run.ts gives it no vsMix either)
  { model: "mix15", language: "all", n: 4, unparsable: 0, rate: iv(0.3, 0.1, 0.5), relativeChange: iv(-25, -40, -10) },
  // mix0: only "all" and "en"; hi missing entirely
  { model: "mix0", language: "en", n: 2, unparsable: 0, rate: iv(0.75, 0.5, 1), relativeChange: iv(50, 0, 100), vsMix: iv(-80, -120, -40) },
  { model: "mix0", language: "all", n: 3, unparsable: 0, rate: iv(0.6, 0.4, 0.8), relativeChange: iv(20, 5, 35), vsMix: NAN },
];

const preferenceScores: LanguageScore[] = [
  { model: "slerp", language: "en", n: 2, unparsable: 0, rate: iv(0.75, 0.5, 1), vsMix: iv(0.1, 0.02, 0.18), consistency: 0.5 },
  { model: "slerp", language: "hi", n: 1, unparsable: 1, rate: iv(0, 0, 0), vsMix: iv(-0.2, -0.4, 0) },
  { model: "slerp", language: "all", n: 3, unparsable: 2, rate: iv(0.6, 0.55, 0.65), vsMix: { estimate: 0.05, low: -0.02, high: 0.12, withinNoise: true }, consistency: 0.75 },
  { model: "mix15", language: "all", n: 3, unparsable: 0, rate: iv(0.55, 0.4, 0.7) },
  { model: "mix0", language: "all", n: 3, unparsable: 0, rate: iv(0.7, 0.5, 0.9), vsMix: iv(0.15, -0.05, 0.35) },
];

function judgment(judge: string, model: string, language: string, id: string, extra: Partial<JudgmentRecord>): JudgmentRecord {
  return { key: `${judge}-${model}-${language}-${id}`, status: "done", judge, model, dataset: judge === "refusal" ? "aya" : "dolly", language, id, time: "2024-01-01T00:00:00.000Z", ...extra };
}

const harmJudgments: JudgmentRecord[] = [
  judgment("refusal", "base", "en", "r1", { sourceId: "s1", harmful: true }),
  judgment("refusal", "slerp", "en", "r1", { sourceId: "s1", harmful: true }),
  judgment("refusal", "slerp", "en", "r2", { harmful: false, flag: "refusal" }),
  judgment("refusal", "slerp", "hi", "r1", { sourceId: "s1", unparsable: true }),
  judgment("refusal", "slerp", "hi", "r3", { sourceId: "s3", harmful: false, flag: "empty" }),
];

const preferenceJudgments: JudgmentRecord[] = [
  judgment("en-only", "slerp", "en", "d1", { baseline: "base", sourceId: "g1", winner: "A", consistent: true }),
  judgment("en-only", "slerp", "en", "d2", { baseline: "base", winner: "tie", consistent: false }),
  judgment("en-only", "slerp", "hi", "d1", { baseline: "base", sourceId: "g1", winner: "B" }),
  judgment("en-only", "slerp", "hi", "d2", { baseline: "base", unparsable: true }),
  judgment("en-only", "mix0", "en", "d1", { baseline: "base", sourceId: "g1", winner: "B" }),
];

function generation(model: string, kind: string, language: string, id: string, output: string): GenerationRecord {
  return {
    key: `${model}-${kind}-${language}-${id}`, status: "done", model, fingerprint: "f", dataset: kind, kind, language, id, prompt: `prompt ${id}`,
    messages: [{ role: "user", content: `prompt ${id}` }], decoding: { maxTokens: 16, temperature: 0 }, output, attempts: 1, latencyMs: 1, time: "2024-01-01T00:00:00.000Z",
  };
}

const LONG_ENGLISH = "The weather today is sunny and warm, so we are going to walk along the river and have lunch in the park.";

const generations = new Map<string, GenerationRecord[]>([
  // Outputs under 20 characters cannot be identified: no in-language share.
  ["slerp", [generation("slerp", "aya-redteaming", "en", "r1", "Sure, here."), generation("slerp", "dolly-200", "hi", "d1", "नमस्ते")]],
  ["base", [generation("base", "aya-redteaming", "en", "r1", "OK.")]],
  // Long English in an English prompt (a match) and in a Hindi prompt (a mismatch): 100% en, 0% hi, 50% overall.
  ["mix15", [generation("mix15", "dolly-200", "en", "d1", LONG_ENGLISH), generation("mix15", "dolly-200", "hi", "d1", LONG_ENGLISH), generation("mix15", "dolly-200", "hi", "d2", "short")]],
  // mix0: no generations at all
]);

function inputs(overrides: { fixtures?: boolean; preference?: ReportInputs["judges"]["preference"]; reference?: string | null; paper?: string } = {}): ReportInputs {
  const { fixtures = true, preference = englishOnlyJudge, reference = "mix15", paper } = overrides;
  return {
    experiment: {
      name: "hand-made",
      languages: ["en", "hi"],
      base: "base",
      ...(reference !== null ? { reference } : {}),
      fixtures,
      ...(paper ? { paper } : {}),
    },
    generation: { max_tokens: 16, temperature: 0, seed: 7 },
    models: MODELS,
    judges: { harm: refusalJudge, preference },
    harm: { scores: harmScores, judgments: harmJudgments },
    preference: { scores: preferenceScores, judgments: preferenceJudgments },
    generations,
  };
}

const report = buildReport(inputs());
const slerp = report.models.slerp!;

describe("buildReport: metrics cells", () => {
  it("scales rates to % and copies the relative harm change as is", () => {
    expect(slerp.overall).toEqual<MetricsCell>({
      harmful_rate: 25,
      harmful_rate_ci: [20, 30],
      harm_rel_change_vs_base: -37.5,
      harm_rel_change_vs_base_ci: [-50, -25],
      win_rate_vs_base: 60,
      win_rate_vs_base_ci: [55, 65],
      n_redteam: 4,
      n_general: 3,
      unparsable: 3, // 1 harm + 2 preference
      in_language_rate: null,
      order_consistency: 75,
    });
  });

  it("fills each language from that language's rows", () => {
    expect(slerp.languages.en).toEqual<MetricsCell>({
      harmful_rate: 50,
      harmful_rate_ci: [0, 100],
      harm_rel_change_vs_base: -50,
      harm_rel_change_vs_base_ci: [-100, 0],
      win_rate_vs_base: 75,
      win_rate_vs_base_ci: [50, 100],
      n_redteam: 2,
      n_general: 2,
      unparsable: 0,
      in_language_rate: null,
      order_consistency: 50,
    });
    expect(Object.keys(slerp.languages)).toEqual(["en", "hi"]);
  });

  it("gives null where an interval is NaN, keeping the finite parts", () => {
    const hi = slerp.languages.hi!;
    expect(hi.harmful_rate).toBe(50);
    expect(hi.harmful_rate_ci).toBeNull();
    expect(hi.harm_rel_change_vs_base).toBeNull();
    expect(hi.harm_rel_change_vs_base_ci).toBeNull();
    expect(hi.win_rate_vs_base).toBe(0);
    expect(hi.win_rate_vs_base_ci).toEqual([0, 0]);
    expect(hi.unparsable).toBe(2);
    expect(hi.order_consistency).toBeNull();
    expect(report.models.mix0!.deltas_vs_reference!.overall!.harm_reduction_pts).toBeNull();
    expect(report.models.mix0!.deltas_vs_reference!.overall!.harm_reduction_pts_ci).toBeNull();
  });

  it("leaves what a judge did not score null or zero: the base has no win rate, a missing language has nothing", () => {
    const base = report.models.base!.overall;
    expect(base).toMatchObject({ harmful_rate: 40, harmful_rate_ci: [20, 60], harm_rel_change_vs_base: null, harm_rel_change_vs_base_ci: null });
    expect(base).toMatchObject({ win_rate_vs_base: null, win_rate_vs_base_ci: null, n_general: 0, order_consistency: null });
    expect(report.models.mix0!.languages.hi).toEqual<MetricsCell>({
      harmful_rate: null,
      harmful_rate_ci: null,
      harm_rel_change_vs_base: null,
      harm_rel_change_vs_base_ci: null,
      win_rate_vs_base: null,
      win_rate_vs_base_ci: null,
      n_redteam: 0,
      n_general: 0,
      unparsable: 0,
      in_language_rate: null,
      order_consistency: null,
    });
  });

  it("computes the in-language share from the generations (short outputs are not identified)", () => {
    const mix15 = report.models.mix15!;
    expect(mix15.languages.en!.in_language_rate).toBe(100);
    expect(mix15.languages.hi!.in_language_rate).toBe(0);
    expect(mix15.overall.in_language_rate).toBe(50);
    expect(report.models.base!.overall.in_language_rate).toBeNull();
    expect(report.models.mix0!.overall.in_language_rate).toBeNull(); // no generations at all
  });
});

describe("buildReport: deltas against the reference mix", () => {
  it("flips the harm delta's sign and swaps its interval ends; win deltas are ×100, unflipped", () => {
    expect(slerp.deltas_vs_reference!.overall).toEqual<DeltaCell>({
      harm_reduction_pts: 3,
      harm_reduction_pts_ci: [1, 5],
      win_rate_pts: 5,
      win_rate_pts_ci: [-2, 12],
      harm_within_noise: false,
      win_within_noise: true,
    });
    expect(slerp.deltas_vs_reference!.en).toEqual<DeltaCell>({
      harm_reduction_pts: -2.5,
      harm_reduction_pts_ci: [-9, 4],
      win_rate_pts: 10,
      win_rate_pts_ci: [2, 18],
      harm_within_noise: true,
      win_within_noise: false,
    });
    // No harm vsMix in Hindi: every harm field null.
    expect(slerp.deltas_vs_reference!.hi).toEqual<DeltaCell>({
      harm_reduction_pts: null,
      harm_reduction_pts_ci: null,
      win_rate_pts: -20,
      win_rate_pts_ci: [-40, 0],
      harm_within_noise: null,
      win_within_noise: true,
    });
    expect(Object.keys(slerp.deltas_vs_reference!)).toEqual(["en", "hi", "overall"]);
    expect(report.models.mix0!.deltas_vs_reference!.en).toMatchObject({ harm_reduction_pts: 80, harm_reduction_pts_ci: [40, 120], win_rate_pts: null });
  });

  it("has no deltas for the base and the reference, nor for anyone without a reference", () => {
    expect(report.models.base).not.toHaveProperty("deltas_vs_reference");
    expect(report.models.mix15).not.toHaveProperty("deltas_vs_reference");
    expect(report.models.mix0).toHaveProperty("deltas_vs_reference");
    const unreferenced = buildReport(inputs({ reference: null }));
    for (const model of Object.values(unreferenced.models)) expect(model).not.toHaveProperty("deltas_vs_reference");
  });
});

describe("buildReport: models, samples, judges, notes", () => {
  it("keeps the models in the order given, with their roles, mix, method, sweep and source", () => {
    expect(Object.keys(report.models)).toEqual(["slerp", "base", "mix15", "mix0"]);
    expect(slerp).toMatchObject({ roles: ["merge"], method: "slerp", sweep: { t: 0.5 }, source: "merges/slerp" });
    expect(slerp).not.toHaveProperty("safety_mix");
    expect(report.models.mix0).toMatchObject({ roles: ["baseline", "expert"], safety_mix: 0, source: "models/mix0" });
    expect(report.models.mix0).not.toHaveProperty("method");
    expect(report.models.base).not.toHaveProperty("sweep");
    expect(report.schema_version).toBe(REPORT_SCHEMA_VERSION);
    expect(report.generation).toEqual({ max_tokens: 16, temperature: 0, seed: 7 });
    expect(report).not.toHaveProperty("paper");
  });

  it("lists per-prompt outcomes: harm 1/0, win 1/½/0, null when unparsable, clustered by source id or language/id", () => {
    expect(slerp.samples.redteam).toEqual([
      ["en", "r1", "s1", 1],
      ["en", "r2", "en/r2", 0],
      ["hi", "r1", "s1", null],
      ["hi", "r3", "s3", 0],
    ]);
    expect(slerp.samples.general).toEqual([
      ["en", "d1", "g1", 1],
      ["en", "d2", "en/d2", 0.5],
      ["hi", "d1", "g1", 0],
      ["hi", "d2", "hi/d2", null],
    ]);
    expect(report.models.base!.samples).toEqual({ redteam: [["en", "r1", "s1", 1]], general: [] });
    expect(report.models.mix15!.samples).toEqual({ redteam: [], general: [] });
    expect(report.models.mix0!.samples.general).toEqual([["en", "d1", "g1", 0]]);
  });

  it("describes the judges: coverage and proxy notes", () => {
    expect(report.judges.harm).toEqual({ name: "refusal", languages: [...refusalJudge.languages], uncovered: [], proxy_note: refusalJudge.proxyNote });
    expect(report.judges.preference).toEqual({ name: "en-only", languages: ["en"], uncovered: ["hi"] });
  });

  it("notes the fixtures, the proxy judges, the uncovered languages, the noise and the reference", () => {
    expect(report.notes).toHaveLength(5);
    expect(report.notes[0]).toMatch(/bundled fixtures/);
    expect(report.notes[1]).toBe(`refusal is a proxy judge: ${refusalJudge.proxyNote}.`);
    expect(report.notes[2]).toBe("en-only does not cover hi: its verdicts there are unreliable.");
    expect(report.notes[3]).toMatch(/95% paired bootstrap/);
    expect(report.notes[4]).toMatch(/against mix15/);

    const real = buildReport(inputs({ fixtures: false, preference: chrfJudge }));
    expect(real.notes.some((n) => /fixture/i.test(n))).toBe(false);
    expect(real.notes.filter((n) => n.includes("is a proxy judge"))).toEqual([
      `refusal is a proxy judge: ${refusalJudge.proxyNote}.`,
      `chrf is a proxy judge: ${chrfJudge.proxyNote}.`,
    ]);
    expect(real.notes.some((n) => n.includes("does not cover"))).toBe(false);
    expect(real.judges.preference.uncovered).toEqual([]);

    const unreferenced = buildReport(inputs({ reference: null }));
    expect(unreferenced.notes.some((n) => n.includes("Deltas in brackets"))).toBe(false);
  });

  it("adds the paper comparison when the experiment names a table", () => {
    const withPaper = buildReport(inputs({ paper: "table1-sft" }));
    expect(withPaper.paper?.id).toBe("table1-sft");
    // slerp → SLERP (by method), mix15 → 15% Safety Mix, mix0 → 0% Safety Mix (by safety share).
    expect(withPaper.paper!.cells.map((c) => `${c.model}:${c.paper_row}:${c.metric}`)).toEqual([
      "mix0:0% Safety Mix:harm_rel_change_vs_base",
      "mix0:0% Safety Mix:win_rate_vs_base",
      "mix15:15% Safety Mix:harm_rel_change_vs_base",
      "mix15:15% Safety Mix:win_rate_vs_base",
      "slerp:SLERP:harm_rel_change_vs_base",
      "slerp:SLERP:win_rate_vs_base",
      "slerp:SLERP:harm_reduction_pts",
      "slerp:SLERP:win_rate_pts",
    ]);
    const harmPts = withPaper.paper!.cells.find((c) => c.model === "slerp" && c.metric === "harm_reduction_pts")!;
    expect(harmPts).toMatchObject({ paper: 1.2, ours: 3 });
    expect(harmPts.difference).toBeCloseTo(1.8, 9);
  });

  it("is deterministic: two builds give identical JSON", () => {
    const a = JSON.stringify(buildReport(inputs({ paper: "table1-dpo" })));
    const b = JSON.stringify(buildReport(inputs({ paper: "table1-dpo" })));
    expect(a).toBe(b);
    expect(JSON.stringify(buildReport(inputs()))).toBe(JSON.stringify(report));
  });
});
