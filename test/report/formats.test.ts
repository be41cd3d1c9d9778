import { readdir, readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerationRecord } from "../../src/generate/index.ts";
import { chrfJudge } from "../../src/judge/chrf.ts";
import { refusalJudge } from "../../src/judge/refusal.ts";
import type { JudgmentRecord, LanguageScore } from "../../src/judge/run.ts";
import { buildReport, type ReportInputs } from "../../src/report/build.ts";
import { renderCsv } from "../../src/report/csv.ts";
import { REPORT_FILES, renderReport, writeReport } from "../../src/report/index.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import type { DeltaCell, MetricsCell, Report } from "../../src/report/types.ts";
import { differenceSentence, formatSigned, harmDifference, levelText, regressionSentence, winDifference } from "../../src/report/wording.ts";
import type { Interval } from "../../src/score/interval.ts";

// A small hand-made report: two languages, the base, the reference mix and two merges whose names need escaping.

const iv = (estimate: number, low: number, high: number, withinNoise = low <= 0 && high >= 0): Interval => ({ estimate, low, high, withinNoise });
/** A difference from the mix with its p-value (harm: points of harm reduction, positive = safer than the mix). */
const vs = (estimate: number, low: number, high: number, p: number): Interval & { p: number } => ({ ...iv(estimate, low, high), p });
const HI_UNDEFINED = "the base has no harmful completions in hi";
const SLERP = "slerp|v2";
/** A literal backslash before a pipe, plus a comma and quotes for the CSV. */
const TIES = `ties\\|"x", final`;

const harmScores: LanguageScore[] = [
  { model: "base", language: "en", n: 2, unparsable: 0, rate: iv(0.5, 0, 1) },
  { model: "base", language: "hi", n: 2, unparsable: 0, rate: iv(0, 0, 0.6) },
  { model: "base", language: "all", n: 4, unparsable: 0, rate: iv(0.4, 0.3, 0.5) },
  { model: "mix15", language: "all", n: 4, unparsable: 0, rate: iv(0.3, 0.1, 0.5), relativeChange: iv(-25, -40, -10) },
  { model: SLERP, language: "en", n: 2, unparsable: 0, rate: iv(0.3, 0.1, 0.5), relativeChange: iv(-40, -60, -20), vsMix: vs(-2, -5, 1, 0.3) },
  { model: SLERP, language: "all", n: 4, unparsable: 1, rate: iv(0.25, 0.2, 0.3), relativeChange: iv(-37.5, -50, -25), vsMix: vs(3, 1, 5, 0.004), mde: 0.042 },
  { model: TIES, language: "hi", n: 2, unparsable: 0, rate: iv(0.5, 0.1, 0.9), relativeChangeUndefined: HI_UNDEFINED },
  { model: TIES, language: "all", n: 4, unparsable: 0, rate: iv(0.44, 0.4, 0.48), relativeChange: iv(10, 0.5, 19.5), vsMix: vs(-35, -50, -20, 0.00001) },
];

const preferenceScores: LanguageScore[] = [
  { model: "mix15", language: "all", n: 3, unparsable: 0, rate: iv(0.55, 0.4, 0.7) },
  { model: SLERP, language: "all", n: 3, unparsable: 0, rate: iv(0.6, 0.55, 0.65), vsMix: vs(0.03, -0.02, 0.08, 0.21), consistency: 0.5, mde: 0.077 },
  { model: TIES, language: "all", n: 3, unparsable: 0, rate: iv(NaN, NaN, NaN) },
];

const judgments: JudgmentRecord[] = [
  { key: "k1", status: "done", judge: "refusal", model: SLERP, dataset: "aya", language: "en", id: "r1", sourceId: "s1", harmful: true, time: "t" },
];

function generation(model: string, language: string, id: string, output: string): GenerationRecord {
  return {
    key: `${model}-${language}-${id}`, status: "done", model, fingerprint: "f", dataset: "aya", kind: "aya-redteaming", language, id, prompt: "p",
    messages: [{ role: "user", content: "p" }], decoding: { maxTokens: 8, temperature: 0 }, output, attempts: 1, latencyMs: 1, time: "t",
  };
}

const inputs: ReportInputs = {
  experiment: { name: "formats", description: "Hand-made numbers.", languages: ["en", "hi"], base: "base", reference: "mix15", fixtures: true, paper: "table1-sft" },
  generation: { max_tokens: 8, temperature: 0, limit_per_language: 2 },
  models: [
    { name: "base", roles: ["base"], source: "models/base" },
    { name: "mix15", roles: ["baseline"], safetyMix: 15, source: "models/mix15" },
    { name: SLERP, roles: ["merge"], method: "slerp", point: { t: 0.5 }, source: "merges/slerp" },
    { name: TIES, roles: ["merge"], method: "ties", point: { density: 0.4, weight: 1 }, source: "merges/ties" },
  ],
  judges: { harm: refusalJudge, preference: chrfJudge },
  harm: { scores: harmScores, judgments },
  preference: { scores: preferenceScores, judgments: [] },
  generations: new Map([[SLERP, [generation(SLERP, "en", "r1", "Sure.")]]]),
};

const report: Report = withVersion2(buildReport(inputs));

/**
 * The decision parts set by hand (build.ts derives them; here they are inputs to the renderings): the statistics,
 * the recommendations, a regression, and a judge's model and host.
 */
function withVersion2(built: Report): Report {
  built.judges.preference = { ...built.judges.preference, model: "gpt-4o", endpoint_host: "judge.example.org" };
  built.statistics = { level: 0.95, intervals: ["Rates: Wilson score intervals.", "Differences: Bonett–Price adjusted paired intervals."], multiple_comparisons: "Holm–Bonferroni over 4 tests (family-wise 5%)" };
  const rule = "The front's most harm reduction without losing win rate.";
  built.recommendations = {
    overall: { model: SLERP, rule, reason: "3.0 pts less harm than mix15, win rate within noise.", front: [SLERP, "mix15"] },
    en: { model: null, rule, reason: "Too few prompts.", front: [] },
    hi: { model: null, rule, reason: "No harm change.", front: [] },
  };
  built.regressions = [{ model: TIES, language: "overall", metric: "harm", points: 35, ci: [20, 50] }];
  return built;
}

const CSV_HEADER = [
  "model", "roles", "safety_mix", "method", "sweep", "language",
  "harmful_rate", "harmful_rate_ci_low", "harmful_rate_ci_high",
  "harm_rel_change_vs_base", "harm_rel_change_vs_base_ci_low", "harm_rel_change_vs_base_ci_high",
  "win_rate_vs_base", "win_rate_vs_base_ci_low", "win_rate_vs_base_ci_high",
  "harm_reduction_pts_vs_reference", "harm_reduction_pts_ci_low", "harm_reduction_pts_ci_high", "harm_within_noise",
  "win_rate_pts_vs_reference", "win_rate_pts_ci_low", "win_rate_pts_ci_high", "win_within_noise",
  "n_redteam", "n_general", "unparsable", "in_language_rate", "order_consistency", "missing_redteam", "missing_general",
  // Schema version 2, appended.
  "mde_harm_pts", "mde_win_pts", "harm_p", "harm_significant", "win_p", "win_significant", "harm_rel_change_undefined",
];

/** How a value reads back from the CSV: numbers as numbers, booleans as "true"/"false", null as empty. */
function expectField(text: string | undefined, value: number | boolean | string | null | undefined): void {
  if (value === null || value === undefined) expect(text).toBe("");
  else if (typeof value === "number") {
    expect(text).not.toBe("");
    expect(Number(text)).toBe(value);
  } else expect(text).toBe(String(value));
}

describe("renderCsv", () => {
  const [header, ...rows] = parse(renderCsv(report)) as string[][];

  it("has the documented header and one row per model × (languages + overall)", () => {
    expect(header).toEqual(CSV_HEADER);
    expect(rows).toHaveLength(4 * 3);
    expect(rows.map((r) => `${r[0]}/${r[5]}`)).toEqual(
      ["base", "mix15", SLERP, TIES].flatMap((m) => ["en", "hi", "overall"].map((l) => `${m}/${l}`)),
    );
    for (const row of rows) expect(row).toHaveLength(CSV_HEADER.length);
  });

  it("round-trips every value of report.json", () => {
    const column = (row: string[], name: string) => row[CSV_HEADER.indexOf(name)];
    for (const row of rows) {
      const model = report.models[row[0]!]!;
      const language = row[5]!;
      const cell: MetricsCell = language === "overall" ? model.overall : model.languages[language]!;
      const delta = model.deltas_vs_reference?.[language];
      expect(column(row, "roles")).toBe(model.roles.join(" "));
      expectField(column(row, "safety_mix"), model.safety_mix);
      expectField(column(row, "method"), model.method);
      for (const m of ["harmful_rate", "harm_rel_change_vs_base", "win_rate_vs_base"] as const) {
        expectField(column(row, m), cell[m]);
        expectField(column(row, `${m}_ci_low`), cell[`${m}_ci`]?.[0]);
        expectField(column(row, `${m}_ci_high`), cell[`${m}_ci`]?.[1]);
      }
      expectField(column(row, "harm_reduction_pts_vs_reference"), delta?.harm_reduction_pts);
      expectField(column(row, "harm_reduction_pts_ci_low"), delta?.harm_reduction_pts_ci?.[0]);
      expectField(column(row, "harm_reduction_pts_ci_high"), delta?.harm_reduction_pts_ci?.[1]);
      expectField(column(row, "harm_within_noise"), delta?.harm_within_noise);
      expectField(column(row, "win_rate_pts_vs_reference"), delta?.win_rate_pts);
      expectField(column(row, "win_rate_pts_ci_low"), delta?.win_rate_pts_ci?.[0]);
      expectField(column(row, "win_rate_pts_ci_high"), delta?.win_rate_pts_ci?.[1]);
      expectField(column(row, "win_within_noise"), delta?.win_within_noise);
      for (const m of ["n_redteam", "n_general", "unparsable", "in_language_rate", "order_consistency"] as const) expectField(column(row, m), cell[m]);
      expectField(column(row, "mde_harm_pts"), cell.mde_pts.harm);
      expectField(column(row, "mde_win_pts"), cell.mde_pts.win);
      for (const m of ["harm_p", "harm_significant", "win_p", "win_significant"] as const) expectField(column(row, m), delta?.[m]);
      expectField(column(row, "harm_rel_change_undefined"), cell.harm_rel_change_undefined);
    }
  });

  it("writes the hand-worked values: %, flipped harm delta, booleans, empties", () => {
    const slerpOverall = rows.find((r) => r[0] === SLERP && r[5] === "overall")!;
    expect(slerpOverall).toEqual([
      SLERP, "merge", "", "slerp", "t=0.5", "overall",
      "25", "20", "30",
      "-37.5", "-50", "-25",
      "60", "55", "65",
      "3", "1", "5", "false",
      "3", "-2", "8", "true",
      "4", "3", "1", "", "50",
      "0", "0",
      "4.2", "7.7", "0.004", "true", "0.21", "false", "",
    ]);
    const ties = rows.find((r) => r[0] === TIES && r[5] === "overall")!;
    expect(ties.slice(0, 5)).toEqual([TIES, "merge", "", "ties", "density=0.4 weight=1"]);
    expect(ties.slice(6, 23)).toEqual(["44", "40", "48", "10", "0.5", "19.5", "", "", "", "-35", "-50", "-20", "false", "", "", "", ""]);
    const mix15 = rows.find((r) => r[0] === "mix15" && r[5] === "hi")!;
    expect(mix15.slice(2, 4)).toEqual(["15", ""]);
    expect(mix15.slice(15, 23)).toEqual(["", "", "", "", "", "", "", ""]); // the reference has no deltas
    expect(mix15.slice(32, 36)).toEqual(["", "", "", ""]);
    const tiesHi = rows.find((r) => r[0] === TIES && r[5] === "hi")!;
    expect(tiesHi.slice(9, 12)).toEqual(["", "", ""]);
    expect(tiesHi.at(-1)).toBe(HI_UNDEFINED);
    expect(ties.slice(30)).toEqual(["", "", "0.00001", "true", "", "", ""]);
  });
});

/** Pipes not escaped by a backslash (an escaped backslash before a pipe does not escape it). */
const unescapedPipes = (line: string) => line.match(/(?<!\\)(?:\\\\)*\|/g)?.length ?? 0;

describe("renderMarkdown", () => {
  const markdown = renderMarkdown(report);
  const lines = markdown.split("\n");

  it("opens with the decision, then the notes, the set-up, how to read it, the charts, the tables and the paper", () => {
    expect(lines.filter((l) => l.startsWith("## "))).toEqual([
      "## Recommendations",
      "## Regressions against mix15",
      "## Read this first",
      "## Set-up",
      "## How to read the numbers",
      "## Charts",
      "## All languages",
      "## English (en)",
      "## Hindi (hi)",
      `## Paper comparison: ${report.paper!.title}`,
    ]);
    expect(lines.slice(0, 3)).toEqual(["# formats: mix data or merge models?", "", "## Recommendations"]);
    expect(markdown).toContain("Hand-made numbers.");
    expect(markdown).toContain("Base model: **base**; reference data mix: **mix15**. Generation: max 8 tokens, temperature 0, first 2 prompts per language.");
    expect(lines).toContain("- Harm judge: refusal");
    expect(markdown).toContain("- Preference judge: chrf (model gpt-4o at judge.example.org)");
  });

  it("states the pick per language and overall, the rule once, the reason and the front; then the regressions", () => {
    const at = lines.indexOf("## Recommendations");
    expect(lines.slice(at, at + 9)).toEqual([
      "## Recommendations",
      "",
      "Rule: The front's most harm reduction without losing win rate.",
      "",
      "| Where | Ship | Why | Pareto front (merges and mixes) |",
      "|---|---|---|---|",
      "| All languages | **slerp\\|v2** | 3.0 pts less harm than mix15, win rate within noise. | slerp\\|v2, mix15 |",
      "| English (en) | no clear winner | Too few prompts. | — |",
      "| Hindi (hi) | no clear winner | No harm change. | — |",
    ]);
    expect(markdown).toContain(`- **ties\\\\\\|"x", final is worse than mix15 over all languages: 35.0 points of harm reduction lost [20.0, 50.0], significant after Holm**`);
  });

  it("prints the notes as blockquotes before the tables", () => {
    expect(report.notes.length).toBeGreaterThanOrEqual(4);
    const firstTable = lines.indexOf("## All languages");
    for (const note of report.notes) {
      const at = lines.indexOf(`> ${note}`);
      expect(at).toBeGreaterThan(lines.indexOf("## Read this first"));
      expect(at).toBeLessThan(firstTable);
    }
  });

  it("states how the numbers were computed", () => {
    expect(markdown).toContain("- Intervals are 95% intervals:\n  - Rates: Wilson score intervals.\n  - Differences: Bonett–Price adjusted paired intervals.");
    expect(markdown).toContain("- Many comparisons: Holm–Bonferroni over 4 tests (family-wise 5%).");
  });

  it("writes the hand-worked rows: one decimal, differences in words, noise and Holm on differences, undefined with its reason, escaped names", () => {
    const section = (title: string) => {
      const start = lines.indexOf(`## ${title}`);
      const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
      return lines.slice(start, end === -1 ? undefined : end);
    };
    const all = section("All languages");
    expect(all).toContain("| base | base | — | — | — | — | — | — | 40.0 | 4 / 0 | — / — | 0 | — |");
    expect(all).toContain("| mix15 | baseline (15% safety) | -25.0 | [-40.0, -10.0] | reference | 55.0 | [40.0, 70.0] | reference | 30.0 | 4 / 3 | — / — | 0 | — |");
    expect(all).toContain(
      "| slerp\\|v2 | merge | -37.5 | [-50.0, -25.0] | +3.0 pts less harm [1.0, 5.0] (significant after Holm) " +
        "| 60.0 | [55.0, 65.0] | +3.0 win-rate pts [−2.0, 8.0] (within noise) | 25.0 | 4 / 3 | ±4.2 / ±7.7 | 1 | — |",
    );
    expect(all).toContain(`| ties\\\\\\|"x", final | merge | 10.0 | [0.5, 19.5] | −35.0 pts: more harm [−50.0, −20.0] (significant after Holm) | — | — | — | 44.0 | 4 / 3 | — / — | 0 | — |`);
    const en = section("English (en)");
    expect(en).toContain("| slerp\\|v2 | merge | -40.0 | [-60.0, -20.0] | −2.0 pts: more harm [−5.0, 1.0] (within noise) | — | — | — | 30.0 | 2 / 0 | — / — | 0 | — |");
    const hi = section("Hindi (hi)");
    expect(hi).toContain("| slerp\\|v2 | merge | — | — | — | — | — | — | — | 0 / 0 | — / — | 0 | — |");
    expect(hi).toContain(`| ties\\\\\\|"x", final | merge | undefined¹ | — | undefined¹ | — | — | — | 50.0 | 2 / 0 | — / — | 0 | — |`);
    expect(hi).toContain(`¹ Harm change undefined: ${HI_UNDEFINED}`);
    // "within noise" qualifies differences only: never a rate or a change vs the base.
    for (const line of [...all, ...en, ...hi].filter((l) => l.startsWith("| "))) {
      for (const [i, cell] of line.split(/(?<!\\) \| /).entries()) if (cell.includes("within noise")) expect([4, 7], line).toContain(i);
    }
  });

  it("shows every row of the paper's table: ours / paper / ours − paper, and rows no model stands for", () => {
    const start = lines.indexOf(`## Paper comparison: ${report.paper!.title}`);
    const paper = lines.slice(start);
    expect(paper).toContain("| SLERP | slerp\\|v2 | -37.5 / -58.2 / +20.7 | 60.0 / 72.6 / −12.6 | 3.0 / 1.2 / +1.8 | 3.0 / 5.2 / −2.2 |");
    expect(paper).toContain("| 15% Safety Mix | mix15 | -25.0 / -56.6 / +31.6 | 55.0 / 67.4 / −12.4 |  |  |");
    expect(paper).toContain(`| TIES | ties\\\\\\|"x", final | 10.0 / -45.2 / +55.2 | — / 74.9 / — | -35.0 / -11.4 / −23.6 | — / 7.5 / — |`);
    expect(paper).toContain("| DARE-TIES | no model | — / -56.1 / — | — / 70.0 / — | — / -0.5 / — | — / 2.6 / — |");
    expect(paper).toContain("- DARE-TIES: no model of this experiment stands for this row (paper numbers only); `paper_row: DARE-TIES` on a model compares it.");
    const rows = paper.filter((l) => l.startsWith("| ") && !l.startsWith("| Paper row"));
    expect(rows.map((l) => l.split(" | ")[0]!.slice(2))).toEqual(["0% Safety Mix", "15% Safety Mix", "100% Safety Mix", "Linear", "SLERP", "TIES", "DARE-TIES"]);
  });

  it("keeps every table row at its header's column count despite pipes in model names", () => {
    const rowCounts: number[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith("|") || lines[i - 1]?.startsWith("|")) continue;
      const columns = unescapedPipes(lines[i]!);
      let rows = 0;
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith("|"); j++, rows++) expect(unescapedPipes(lines[j]!), lines[j]).toBe(columns);
      rowCounts.push(rows - 1); // without the separator
    }
    // Recommendations, all languages, en, hi, the paper's seven rows.
    expect(rowCounts).toEqual([3, 4, 4, 4, 7]);
    expect(unescapedPipes("| a\\|b | c |")).toBe(3); // the counter itself
    expect(unescapedPipes("| a\\\\|b |")).toBe(3);
  });
});

describe("wording", () => {
  const delta = (harm: number | null, win: number | null, extra: Partial<DeltaCell> = {}): DeltaCell => ({
    harm_reduction_pts: harm, harm_reduction_pts_ci: harm === null ? null : [harm - 2, harm + 2], win_rate_pts: win, win_rate_pts_ci: win === null ? null : [win - 2, win + 2],
    harm_within_noise: false, win_within_noise: false, harm_p: null, harm_significant: null, win_p: null, win_significant: null, ...extra,
  });

  it("says which way a difference goes, with a real minus sign", () => {
    expect(harmDifference(delta(4.2, null), "mix15")!.text).toBe("+4.2 pts less harm than mix15");
    expect(harmDifference(delta(-4.2, null), "mix15")!.text).toBe("−4.2 pts: more harm than mix15");
    expect(harmDifference(delta(0.04, null), "mix15")!.text).toBe("0.0 pts: as harmful as mix15");
    expect(harmDifference(delta(-0.04, null))!.text).toBe("0.0 pts: same harm");
    expect(winDifference(delta(null, -3), "mix15")!.text).toBe("−3.0 win-rate pts vs mix15");
    expect(winDifference(delta(null, 3))!.text).toBe("+3.0 win-rate pts");
    expect(harmDifference(delta(null, 3), "mix15")).toBeNull();
    expect(harmDifference(undefined)).toBeNull();
    expect([formatSigned(-0.04), formatSigned(0.06), formatSigned(-12.35)]).toEqual(["0.0", "+0.1", "−12.3"]);
  });

  it("qualifies a difference: within noise, else what Holm says, else nothing (version-1 reports)", () => {
    expect(harmDifference(delta(1, null, { harm_within_noise: true, harm_significant: false }))!.qualifier).toBe("within noise");
    expect(harmDifference(delta(9, null, { harm_significant: true }))!.qualifier).toBe("significant after Holm");
    expect(winDifference(delta(null, 9, { win_significant: false }))!.qualifier).toBe("not significant after Holm");
    const v1 = { ...delta(null, 9) } as Partial<DeltaCell>;
    delete v1.win_significant;
    expect(winDifference(v1 as DeltaCell)!.qualifier).toBeNull();
    expect(differenceSentence(winDifference(delta(null, -9, { win_significant: true }), "mix15")!)).toBe("−9.0 win-rate pts vs mix15 [−11.0, −7.0] (significant after Holm)");
  });

  it("states a regression in one line and the level as a percentage", () => {
    expect(regressionSentence({ model: "ties", language: "ar", metric: "win", points: 12, ci: [4, 20] }, "mix15")).toBe(
      "ties is worse than mix15 in Arabic (ar): 12.0 win-rate points lost [4.0, 20.0], significant after Holm",
    );
    expect(regressionSentence({ model: "ties", language: "overall", metric: "harm", points: 3.25, ci: [1, 5.5] }, "mix15")).toBe(
      "ties is worse than mix15 over all languages: 3.3 points of harm reduction lost [1.0, 5.5], significant after Holm",
    );
    expect([levelText(0.95), levelText(95), levelText(0.9)]).toEqual(["95%", "95%", "90%"]);
  });
});

describe("renderReport and writeReport", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mergeval-report-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("renders byte-identical files on every call", async () => {
    const first = await renderReport(report);
    const second = await renderReport(report);
    expect(Object.keys(first)).toEqual([...REPORT_FILES]);
    for (const name of REPORT_FILES) expect(second[name]).toBe(first[name]);
    expect(JSON.parse(first["report.json"])).toEqual(report);
    expect(first["report.csv"]).toBe(renderCsv(report));
    expect(first["report.md"]).toBe(renderMarkdown(report));
  });

  it("writes all four files and the charts as SVG into each folder, identical, with nothing left aside", async () => {
    const dirs = [join(dir, "run", "report"), join(dir, "reports", "nested", "formats")];
    const written = await writeReport(report, dirs);
    expect(written).toEqual(dirs.flatMap((d) => REPORT_FILES.map((f) => join(d, f))));
    const rendered = await renderReport(report);
    for (const d of dirs) {
      expect((await readdir(d)).sort()).toEqual([...REPORT_FILES, "charts"].sort());
      const charts = (await readdir(join(d, "charts"))).sort();
      expect(charts).toEqual(["harm-change.svg", "pareto-languages.svg", "trade-off.svg", "win-rate.svg"]);
      for (const chart of charts) expect(await readFile(join(d, "charts", chart), "utf8")).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      for (const name of REPORT_FILES) {
        const bytes = await readFile(join(d, name));
        expect(bytes.equals(await readFile(join(dirs[0]!, name)))).toBe(true);
        expect(bytes.toString("utf8")).toBe(rendered[name]);
      }
    }
    // Writing again over existing files works and still leaves no *.tmp behind.
    await writeReport(report, dirs);
    for (const d of dirs) expect((await readdir(d)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
