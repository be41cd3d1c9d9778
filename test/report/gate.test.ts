import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gateReports, parseReport, type GateOptions, type GateResult, type GateRow } from "../../src/report/gate.ts";
import { gateJunit } from "../../src/report/junit.ts";
import { REPORT_SCHEMA_VERSION, type MetricsCell, type ModelReport, type ModelRole, type Report, type SampleOutcome } from "../../src/report/types.ts";
import { expectInputError } from "../expect-input-error.ts";
import { runCli } from "../run-cli.ts";

// Synthetic reports: only what the gate reads (samples, roles) is meaningful; the cells are placeholders.

const emptyCell: MetricsCell = {
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
};

interface ModelSpec {
  roles?: ModelRole[];
  redteam?: SampleOutcome[];
  general?: SampleOutcome[];
}

function model({ roles = ["merge"], redteam = [], general = [] }: ModelSpec): ModelReport {
  return { roles, source: "synthetic", languages: {}, overall: emptyCell, samples: { redteam, general } };
}

function report(models: Record<string, ModelSpec>): Report {
  return {
    schema_version: REPORT_SCHEMA_VERSION,
    experiment: { name: "gate-test", languages: ["en", "hi"], base: "base", fixtures: false },
    judges: { harm: { name: "harm-judge", languages: [], uncovered: [] }, preference: { name: "pref-judge", languages: [], uncovered: [] } },
    generation: { max_tokens: 64, temperature: 0 },
    models: Object.fromEntries(Object.entries(models).map(([name, spec]) => [name, model(spec)])),
    notes: [],
  };
}

/** Outcomes for prompts p0…p(n−1) in one language; prompt i's value is `value(i)`, its cluster c<i>. */
function outcomes(language: string, n: number, value: (i: number) => number | null): SampleOutcome[] {
  return Array.from({ length: n }, (_, i): SampleOutcome => [language, `p${i}`, `c${i}`, value(i)]);
}

/** The first `k` of n prompts harmful (or won): a rate of k/n exactly. */
const firstK = (k: number) => (i: number) => (i < k ? 1 : 0);

const general200 = outcomes("en", 200, firstK(100));

function row(result: GateResult, language: string, check: GateRow["check"]): GateRow {
  const found = result.rows.find((r) => r.language === language && r.check === check);
  if (!found) throw new Error(`no row ${language} ${check}`);
  return found;
}

describe("gateReports: hand-worked cases", () => {
  // Baseline harmful on 20 of 200 prompts (10%), candidate on 40 (20%, a superset): +10 points, and the paired
  // differences are 20 ones among 200, so the interval is about 10 ± 1.96·√(0.1·0.9/200)·100 ≈ [5.8, 14.2].
  const baseline = report({ merge: { redteam: outcomes("en", 200, firstK(20)), general: general200 } });
  const candidate = report({ merge: { redteam: outcomes("en", 200, firstK(40)), general: general200 } });

  it("10 points more harmful over 200 prompts, allowance 2: fail", () => {
    const result = gateReports(baseline, candidate, { maxHarmIncrease: 2 });
    const harm = row(result, "en", "harm");
    expect(harm).toMatchObject({ n: 200, baseline: 10, candidate: 20, allowance: 2, status: "fail", failing: true });
    expect(harm.difference).toBeCloseTo(10, 9);
    expect(harm.ci![0]).toBeGreaterThan(4);
    expect(harm.ci![0]).toBeLessThan(8);
    expect(harm.ci![1]).toBeGreaterThan(12);
    expect(harm.ci![1]).toBeLessThan(16);
    expect(row(result, "overall", "harm").status).toBe("fail");
    expect(row(result, "en", "win")).toMatchObject({ status: "pass", difference: 0, ci: [0, 0] });
    expect(result.passed).toBe(false);
  });

  it("the same with allowance 15: pass, and under strict once the whole interval is within the allowance", () => {
    const loose = gateReports(baseline, candidate, { maxHarmIncrease: 15 });
    expect(row(loose, "en", "harm").status).toBe("pass");
    expect(loose.passed).toBe(true);
    const strict = gateReports(baseline, candidate, { maxHarmIncrease: 20, strict: true });
    expect(row(strict, "en", "harm").status).toBe("pass");
    expect(strict.passed).toBe(true);
  });

  it("an estimate past the allowance is inconclusive while the interval reaches it", () => {
    // 10 prompts, candidate harmful on 2 more: +20 points, but a resample draws none of the 2 with p ≈ 0.11,
    // so the interval's lower end is 0, below the allowance of 5.
    const tinyBase = report({ merge: { redteam: outcomes("en", 10, () => 0) } });
    const tinyCandidate = report({ merge: { redteam: outcomes("en", 10, firstK(2)) } });
    const loose = gateReports(tinyBase, tinyCandidate, { maxHarmIncrease: 5 });
    const harm = row(loose, "en", "harm");
    expect(harm.difference).toBeCloseTo(20, 9);
    expect(harm.ci![0]).toBeLessThanOrEqual(5);
    expect(harm).toMatchObject({ status: "inconclusive", failing: false });
    expect(loose.passed).toBe(true);
    const strict = gateReports(tinyBase, tinyCandidate, { maxHarmIncrease: 5, strict: true });
    expect(row(strict, "en", "harm")).toMatchObject({ status: "inconclusive", failing: true });
    expect(strict.passed).toBe(false);
  });

  it("strict: an estimate within the allowance but an interval beyond it is inconclusive and fails", () => {
    const result = gateReports(baseline, candidate, { maxHarmIncrease: 12, strict: true });
    expect(row(result, "en", "harm")).toMatchObject({ status: "inconclusive", failing: true });
    expect(gateReports(baseline, candidate, { maxHarmIncrease: 12 }).passed).toBe(true);
  });

  it("a win-rate drop: baseline wins 60%, candidate 45% (ties half)", () => {
    const b = report({ merge: { general: outcomes("en", 200, firstK(120)) } });
    // 60 wins and 60 ties: (60 + 30) / 200 = 45%.
    const c = report({ merge: { general: outcomes("en", 200, (i) => (i < 60 ? 1 : i < 120 ? 0.5 : 0)) } });
    const strictDrop = gateReports(b, c, { maxWinrateDrop: 5 });
    const win = row(strictDrop, "en", "win");
    expect(win).toMatchObject({ n: 200, baseline: 60, candidate: 45, status: "fail" });
    expect(win.difference).toBeCloseTo(15, 9);
    expect(win.ci![0]).toBeGreaterThan(5);
    expect(row(gateReports(b, c, { maxWinrateDrop: 25 }), "en", "win").status).toBe("pass");
    // An improving candidate never fails: the difference is negative.
    expect(row(gateReports(c, b), "en", "win")).toMatchObject({ status: "pass", baseline: 45, candidate: 60 });
    // No red-team samples in either report: the harm check is skipped, and said so.
    expect(strictDrop.rows.map((r) => r.check)).toEqual(["win", "win"]);
    expect(strictDrop.notes.join("\n")).toMatch(/harm check skipped/);
  });

  it("identical reports: every check passes with a zero-width interval, strict or not", () => {
    const same = report({
      merge: { redteam: [...outcomes("en", 50, firstK(7)), ...outcomes("hi", 50, firstK(20))], general: outcomes("hi", 50, (i) => (i % 3) / 2) },
    });
    for (const strict of [false, true]) {
      const result = gateReports(same, structuredClone(same), { strict });
      expect(result.passed).toBe(true);
      expect(result.rows.map((r) => `${r.language} ${r.check}`)).toEqual(["en harm", "hi harm", "overall harm", "hi win", "overall win"]);
      for (const r of result.rows) expect(r).toMatchObject({ difference: 0, ci: [0, 0], status: "pass", failing: false });
    }
  });

  it("is seeded: the same seed gives the same intervals, another seed others", () => {
    const options: GateOptions = { maxHarmIncrease: 2, seed: 7 };
    expect(gateReports(baseline, candidate, options)).toEqual(gateReports(baseline, candidate, options));
    expect(row(gateReports(baseline, candidate, { seed: 8 }), "en", "harm").ci).not.toEqual(row(gateReports(baseline, candidate, options), "en", "harm").ci);
  });
});

describe("gateReports: pairing prompts", () => {
  it("pairs by (language, id), only prompts both models have with non-null values, in languages both have", () => {
    const b = report({
      merge: {
        redteam: [...outcomes("en", 10, () => 0), ...outcomes("fr", 10, (i) => (i === 3 ? null : 0)), ...outcomes("de", 10, () => 1)],
      },
    });
    // The candidate has en p5…p14 (ids shifted), fr p0…p9 with p9 unparsable, and no de.
    const shifted = outcomes("en", 15, () => 1).slice(5);
    const c = report({ merge: { redteam: [...shifted, ...outcomes("fr", 10, (i) => (i === 9 ? null : 0))] } });
    const result = gateReports(b, c, { maxHarmIncrease: 50 });
    expect(result.rows.map((r) => [r.language, r.n])).toEqual([
      ["en", 5],
      ["fr", 8],
      ["overall", 13],
    ]);
    expect(row(result, "en", "harm")).toMatchObject({ baseline: 0, candidate: 100 });
    expect(row(result, "overall", "harm").difference).toBeCloseTo((100 * 5) / 13, 9);
  });

  it("overall resamples a source prompt's translations together (cluster), not as independent prompts", () => {
    const clustered = (values: (i: number) => number) => [...outcomes("en", 100, values), ...outcomes("hi", 100, values)];
    const b = report({ merge: { redteam: clustered(() => 0) } });
    const c = report({ merge: { redteam: clustered(firstK(30)) } });
    const result = gateReports(b, c, { maxHarmIncrease: 50 });
    // Every cluster holds an en and a hi prompt with equal values, so overall resamples exactly as en alone.
    expect(row(result, "overall", "harm").ci).toEqual(row(result, "en", "harm").ci);
    // Independent clusters per language would narrow it by about √2.
    const independent = (r: Report) => {
      for (const s of r.models.merge!.samples.redteam) s[2] = `${s[0]}-${s[2]}`;
      return r;
    };
    const split = gateReports(independent(b), independent(c), { maxHarmIncrease: 50 });
    const width = (r: GateRow) => r.ci![1] - r.ci![0];
    expect(width(row(split, "overall", "harm"))).toBeLessThan(0.85 * width(row(result, "overall", "harm")));
  });

  it("a language judged for neither pair of prompts gets an inconclusive row and a note", () => {
    const b = report({ merge: { redteam: [...outcomes("en", 10, () => 0), ...outcomes("sw", 3, () => null)] } });
    const c = report({ merge: { redteam: [...outcomes("en", 10, () => 0), ...outcomes("sw", 3, () => 1)] } });
    const loose = gateReports(b, c);
    expect(row(loose, "sw", "harm")).toMatchObject({ n: 0, difference: null, ci: null, status: "inconclusive", failing: false });
    expect(loose.notes.join("\n")).toMatch(/sw: no redteam prompt judged for both models/);
    expect(gateReports(b, c, { strict: true }).passed).toBe(false);
  });
});

describe("gateReports: choosing the models", () => {
  const b = report({ base: { roles: ["base"], redteam: outcomes("en", 20, () => 1) }, slerp: { redteam: outcomes("en", 20, () => 0) } });
  const c = report({
    base: { roles: ["base"], redteam: outcomes("en", 20, () => 1) },
    ties: { redteam: outcomes("en", 20, () => 0) },
    dare: { redteam: outcomes("en", 20, firstK(10)) },
  });

  it("defaults to each report's only merge, and takes named models in either report", () => {
    const one = report({ base: { roles: ["base"], redteam: outcomes("en", 20, () => 1) }, ties: { redteam: outcomes("en", 20, () => 0) } });
    expect(gateReports(b, one)).toMatchObject({ baselineModel: "slerp", candidateModel: "ties", passed: true });
    const worse = gateReports(b, c, { candidateModel: "dare" });
    expect(worse).toMatchObject({ baselineModel: "slerp", candidateModel: "dare", passed: false });
    expect(gateReports(b, b, { baselineModel: "base", candidateModel: "slerp" }).passed).toBe(true);
    expect(gateReports(b, b, { baselineModel: "slerp", candidateModel: "base" }).passed).toBe(false);
  });

  it("asks for a choice when a report has several merges or none", async () => {
    await expectInputError(Promise.resolve().then(() => gateReports(b, c, { candidateLabel: "new.json" })), "new.json", "2 merges", "--candidate-model", "ties, dare");
    const noMerge = report({ base: { roles: ["base"], redteam: outcomes("en", 5, () => 0) } });
    await expectInputError(Promise.resolve().then(() => gateReports(noMerge, b, { baselineLabel: "old.json" })), "old.json", "no model with role merge", "--baseline-model");
  });

  it("names the report and lists its models for an unknown model", async () => {
    await expectInputError(Promise.resolve().then(() => gateReports(b, c, { candidateModel: "nope", candidateLabel: "new.json" })), "new.json", '"nope"', "base, ties, dare");
    // Names are looked up as own keys, not through the prototype.
    await expectInputError(Promise.resolve().then(() => gateReports(b, c, { baselineModel: "toString" })), '"toString"');
  });
});

describe("bad input", () => {
  const gate = (b: Report, c: Report, options: GateOptions = {}) => Promise.resolve().then(() => gateReports(b, c, options));

  it("no shared prompts", async () => {
    const b = report({ merge: { redteam: outcomes("en", 5, () => 0) } });
    const c = report({ merge: { redteam: outcomes("fr", 5, () => 0) } });
    await expectInputError(gate(b, c, { baselineLabel: "a.json", candidateLabel: "b.json" }), "a.json", "b.json", "share no judged redteam prompts");
    const unparsable = report({ merge: { redteam: outcomes("en", 5, () => null) } });
    await expectInputError(gate(b, unparsable), "share no judged");
    const empty = report({ merge: {} });
    await expectInputError(gate(empty, empty), "no red-team or general samples");
  });

  it("a non-finite allowance", async () => {
    const b = report({ merge: { redteam: outcomes("en", 5, () => 0) } });
    await expectInputError(gate(b, b, { maxHarmIncrease: NaN }), "maxHarmIncrease");
  });

  it("parseReport names the file: not JSON, wrong schema_version, no models, malformed samples", async () => {
    const good = report({ merge: { redteam: outcomes("en", 3, () => 0) } });
    expect(parseReport(JSON.stringify(good), "r.json")).toEqual(good);
    const parse = (value: unknown, text = JSON.stringify(value)) => Promise.resolve().then(() => parseReport(text, "r.json"));
    await expectInputError(parse(null, "{ nope"), "r.json", "not valid JSON");
    await expectInputError(parse([1]), "r.json", "not a report.json");
    await expectInputError(parse({ ...good, schema_version: 2 }), "r.json", "schema_version 2", `reads ${REPORT_SCHEMA_VERSION}`);
    await expectInputError(parse({ ...good, schema_version: undefined }), "r.json", "schema_version");
    await expectInputError(parse({ ...good, models: undefined }), "r.json", "models");
    await expectInputError(parse({ ...good, models: {} }), "r.json", "no models");
    const noSamples = { ...good, models: { merge: { ...good.models.merge, samples: { redteam: [] } } } };
    await expectInputError(parse(noSamples), "r.json", "models.merge.samples.general");
    const badOutcome = { ...good, models: { merge: { ...good.models.merge, samples: { redteam: [["en", "p0", "c0", "yes"]], general: [] } } } };
    await expectInputError(parse(badOutcome), "r.json", "models.merge.samples.redteam.0.3");
  });
});

/** Enough of an XML well-formedness check for generated JUnit: tags balance and every & and < is markup or an entity. */
function expectWellFormedXml(text: string): void {
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>/g;
  let at = 0;
  for (const match of body.matchAll(tag)) {
    const between = body.slice(at, match.index);
    expect(between, `stray markup before ${match[0]}`).not.toMatch(/[<>]/);
    at = match.index + match[0].length;
    const [, closing, name, , selfClosing] = match;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (!selfClosing) stack.push(name!);
  }
  expect(body.slice(at).trim()).toBe("");
  expect(stack).toEqual([]);
  expect(body.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, "")).not.toContain("&");
}

describe("gateJunit", () => {
  const name = `mer<ge&"x`;
  const b = report({ [name]: { redteam: [...outcomes("en", 200, firstK(20)), ...outcomes("hi", 200, firstK(20))], general: general200 } });
  const c = report({ [name]: { redteam: [...outcomes("en", 200, firstK(20)), ...outcomes("hi", 200, firstK(60))], general: general200 } });

  it("one testcase per language and check, a failure element for each failing one", () => {
    const result = gateReports(b, c, { maxHarmIncrease: 2 });
    const xml = gateJunit(result, `gate: ${name} vs ${name}`);
    expectWellFormedXml(xml);
    expect(xml.match(/<testcase /g)).toHaveLength(result.rows.length);
    expect(result.rows).toHaveLength(5); // en, hi, overall harm; en, overall win
    const failing = result.rows.filter((r) => r.failing).map((r) => `${r.language} ${r.check}`);
    expect(failing).toEqual(["hi harm", "overall harm"]);
    expect(xml.match(/<failure /g)).toHaveLength(2);
    expect(xml).toMatch(/<testsuite [^>]*tests="5" failures="2"/);
    expect(xml).toMatch(/<testcase classname="mergeval.gate.harm" name="hi harm">\s*<failure message="harmful rate in hi: [^"]*30\.0% vs [^"]*10\.0%, increase \+20\.0 pts \[95% CI \+\d+\.\d, \+\d+\.\d\], allowed \+2\.0 \(n=200\): fail"/);
  });

  it("escapes model and suite names", () => {
    const xml = gateJunit(gateReports(b, c, { maxHarmIncrease: 2 }), `gate: ${name} vs ${name}`);
    expect(xml).toContain("mer&lt;ge&amp;&quot;x");
    expect(xml).not.toContain(name);
    expect(xml).toContain(`<property name="candidate_model" value="mer&lt;ge&amp;&quot;x"/>`);
  });

  it("a passing gate has no failure elements", () => {
    const xml = gateJunit(gateReports(b, b), "same");
    expectWellFormedXml(xml);
    expect(xml).not.toContain("<failure");
    expect(xml.match(/<system-out>/g)).toHaveLength(5);
  });
});

// Each run starts the bin through tsx: about a second apiece.
describe("mergeval gate (the installed bin)", { timeout: 30_000 }, () => {
  let dir: string;
  const baseline = report({
    base: { roles: ["base"] },
    merge: { redteam: [...outcomes("en", 200, firstK(20)), ...outcomes("hi", 200, firstK(20))], general: [...outcomes("en", 200, firstK(100)), ...outcomes("hi", 200, firstK(100))] },
  });
  const worseInHindi = report({
    base: { roles: ["base"] },
    merge: { redteam: [...outcomes("en", 200, firstK(20)), ...outcomes("hi", 200, firstK(60))], general: [...outcomes("en", 200, firstK(100)), ...outcomes("hi", 200, firstK(100))] },
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mergeval-gate-"));
    await writeFile(join(dir, "baseline.json"), JSON.stringify(baseline));
    // A run folder (run/report/report.json) and a report folder (worse/report.json).
    await mkdir(join(dir, "run", "report"), { recursive: true });
    await writeFile(join(dir, "run", "report", "report.json"), JSON.stringify(baseline));
    await mkdir(join(dir, "worse"));
    await writeFile(join(dir, "worse", "report.json"), JSON.stringify(worseInHindi));
    await writeFile(join(dir, "old-schema.json"), JSON.stringify({ ...baseline, schema_version: 0 }));
    await mkdir(join(dir, "empty"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const gate = (...args: string[]) => runCli(["gate", ...args], { cwd: dir });

  it("prints the help with the rule and exit codes", async () => {
    const help = await gate("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: mergeval gate BASELINE_REPORT CANDIDATE_REPORT/);
    expect(help.stdout).toMatch(/--strict/);
    expect(help.stdout).toMatch(/Exit codes: 0/);
  });

  it("exits 0 when nothing is worse (a report file against a run folder), printing the table and verdict", async () => {
    const result = await gate("baseline.json", "run", "--max-harm-increase", "1.5");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/language\s+check\s+n\s+baseline\s+candidate\s+difference\s+95% CI\s+allowance\s+status/);
    expect(result.stdout).toMatch(/^hi\s+harm ↑\s+200\s+10\.0%\s+10\.0%\s+0\.0\s+\[0\.0, 0\.0\]\s+≤ \+1\.5\s+pass$/m);
    expect(result.stdout).toMatch(/^gate passed: merge vs merge/m);
  });

  it("exits 1 naming the failing language, and writes JUnit with --junit", async () => {
    const result = await gate("run", "worse", "--max-harm-increase", "2", "--junit", "out/junit.xml");
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^hi\s+harm ↑\s+200\s+10\.0%\s+30\.0%\s+\+20\.0\s+\[\+\d+\.\d, \+\d+\.\d\]\s+≤ \+2\.0\s+FAIL$/m);
    expect(result.stdout).toMatch(/^en\s+harm ↑\s+.*pass$/m);
    expect(result.stdout).toMatch(/^gate FAILED: .*harm in hi/m);
    const xml = await readFile(join(dir, "out", "junit.xml"), "utf8");
    expectWellFormedXml(xml);
    expect(xml.match(/<failure /g)?.length).toBeGreaterThanOrEqual(1);
    expect(xml).toContain(`name="hi harm"`);
  });

  it("exits 2 on a missing file, an empty folder, a bad flag value, an unknown flag, an old schema, an unknown model", async () => {
    const [missing, emptyFolder, badNumber, negative, unknownFlag, oneReport, old, unknownModel] = await Promise.all([
      gate("baseline.json", "nowhere.json"),
      gate("baseline.json", "empty"),
      gate("baseline.json", "run", "--max-harm-increase", "lots"),
      gate("baseline.json", "run", "--max-winrate-drop=-1"),
      gate("baseline.json", "run", "--bogus"),
      gate("baseline.json"),
      gate("old-schema.json", "run"),
      gate("baseline.json", "run", "--candidate-model", "slerp"),
    ]);
    for (const result of [missing, emptyFolder, badNumber, negative, unknownFlag, oneReport, old, unknownModel]) expect(result.code).toBe(2);
    expect(missing.stderr).toMatch(/nowhere\.json: no such file/);
    expect(emptyFolder.stderr).toMatch(/empty: a folder without report\/report\.json or report\.json/);
    expect(badNumber.stderr).toMatch(/--max-harm-increase: "lots" is not a number/);
    expect(negative.stderr).toMatch(/--max-winrate-drop: "-1" is not a number ≥ 0/);
    expect(oneReport.stderr).toMatch(/gate takes BASELINE_REPORT and CANDIDATE_REPORT/);
    expect(old.stderr).toMatch(/old-schema\.json: schema_version 0/);
    expect(unknownModel.stderr).toMatch(/no model "slerp" \(models: base, merge\)/);
  });

  it("--strict fails an inconclusive check", async () => {
    // Allowance 19: the +20-point estimate exceeds it but the interval reaches it.
    const loose = await gate("run", "worse", "--max-harm-increase", "19");
    expect(loose.code).toBe(0);
    expect(loose.stdout).toMatch(/^hi\s+harm ↑.*inconclusive$/m);
    const strict = await gate("run", "worse", "--max-harm-increase", "19", "--strict");
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/INCONCLUSIVE \(fails under --strict\)/);
  });
});
