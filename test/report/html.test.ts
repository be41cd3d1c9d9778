import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer, { type Browser } from "puppeteer-core";
import { describe, expect, it } from "vitest";
import type { ReportModel } from "../../src/report/build.ts";
import { robustDomain } from "../../src/report/chart-axis.ts";
import { groupSameSpot, labelText, placeLabels } from "../../src/report/chart-labels.ts";
import { paretoFront, renderCharts, type TradeOff } from "../../src/report/charts.ts";
import { renderHtml } from "../../src/report/html.ts";
import { comparePaper } from "../../src/report/paper.ts";
import { REPORT_SCHEMA_VERSION, type Ci, type DeltaCell, type MetricsCell, type ModelReport, type Recommendation, type Report } from "../../src/report/types.ts";
import { holm } from "../../src/score/multiple.ts";
import { normalCdf } from "../../src/score/normal.ts";

/**
 * A realistic report: six languages, eleven models (three mixes, a SLERP sweep, a name that needs escaping), one
 * interval far out (+435% in hi), one significant regression (dare-ties in ar), harm changes undefined in ru (the
 * base has no harmful completions there). `REPORT_SCREENSHOT=/tmp/report.png npx vitest run test/report/html.test.ts`
 * saves a full-page screenshot of its HTML, and `REPORT_HTML=/tmp/report.html` the page itself.
 */

const LANGUAGES = ["en", "hi", "fr", "es", "ar", "ru"];
/** A user-chosen name that must be escaped everywhere; its win rate is null, so the trade-off charts leave it out. */
const ODD_MERGE = `ties<&>"v2"`;
const UNDEFINED_LANGUAGE = "ru";
const UNDEFINED_REASON = "the base has no harmful completions in ru (0 of 200), so a change relative to it is undefined";
const OUTLIER = { model: "slerp-t0.7", language: "hi", value: 35, ci: [-60, 435] as Ci };
const REGRESSION = { model: "dare-ties", language: "ar", win: -12, ci: [-20, -4] as Ci };
const NAMESPACES = new Set(["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml"]);
const CHROME_PATH = process.env.CHROME_PATH ?? "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROME_PATH);
/** Without a browser, skip locally but fail in CI, where .ci/run installs one. */
const SKIP_BROWSER = !HAS_CHROMIUM && !process.env.CI;
if (SKIP_BROWSER) console.warn(`Skipping the headless Chromium report test: no Chromium at ${CHROME_PATH} (set CHROME_PATH).`);

type Extra = Pick<ModelReport, "roles" | "safety_mix" | "method" | "sweep">;
/** Overall harm change and win rate (the paper's SFT numbers, roughly); each language shifts them a little. */
const MODELS: [name: string, harm: number | null, win: number | null, extra: Extra][] = [
  ["base", null, null, { roles: ["base"] }],
  ["mix0", -41, 70, { roles: ["baseline", "expert"], safety_mix: 0 }],
  ["mix15", -56.6, 67.4, { roles: ["baseline"], safety_mix: 15 }],
  ["mix100", -64.4, 64.8, { roles: ["baseline", "expert"], safety_mix: 100 }],
  ["linear", -49.1, 76, { roles: ["merge"], method: "linear" }],
  ["slerp-t0.3", -52, 74.5, { roles: ["merge"], method: "slerp", sweep: { t: 0.3 } }],
  ["slerp-t0.5", -58.2, 72.6, { roles: ["merge"], method: "slerp", sweep: { t: 0.5 } }],
  ["slerp-t0.7", -61, 69, { roles: ["merge"], method: "slerp", sweep: { t: 0.7 } }],
  ["ties", -45.2, 74.9, { roles: ["merge"], method: "ties" }],
  ["dare-ties", -56.1, 70, { roles: ["merge"], method: "dare_ties" }],
  [ODD_MERGE, -62, null, { roles: ["merge"], method: "ties" }],
];

const jitter = (i: number, j: number, salt: number) => (((i * 7 + j * 13 + salt) % 9) - 4) * 0.9;
const round1 = (x: number) => Math.round(x * 10) / 10;
const around = (value: number | null, half: number): Ci | null => (value === null ? null : [round1(value - half), round1(value + half)]);
/** 80% power, two-sided 5%: (1.96 + 0.84)·√(2p(1 − p)/n), in points. */
const detectable = (p: number, n: number) => round1(280 * Math.sqrt((2 * p * (1 - p)) / n));

function metricsCell(harm: number | null, win: number | null, n: number, undefinedReason?: string): MetricsCell {
  const harmful = harm === null ? (undefinedReason ? 0.5 : 40) : 40 * (1 + harm / 100);
  return {
    harmful_rate: round1(harmful),
    harmful_rate_ci: around(harmful, 4),
    harm_rel_change_vs_base: harm === null ? null : round1(harm),
    harm_rel_change_vs_base_ci: around(harm, 9),
    win_rate_vs_base: win === null ? null : round1(win),
    win_rate_vs_base_ci: around(win, 5.5),
    n_redteam: n,
    n_general: n,
    unparsable: 1,
    in_language_rate: 96.4,
    order_consistency: 88,
    mde_pts: { harm: detectable(harmful / 100, n), win: win === null ? null : detectable(win / 100, n) },
    ...(undefinedReason ? { harm_rel_change_undefined: undefinedReason } : {}),
  };
}

function deltaCell(model: MetricsCell, reference: MetricsCell): DeltaCell {
  const harm = model.harm_rel_change_vs_base === null || reference.harm_rel_change_vs_base === null ? null : round1(reference.harm_rel_change_vs_base - model.harm_rel_change_vs_base);
  const win = model.win_rate_vs_base === null || reference.win_rate_vs_base === null ? null : round1(model.win_rate_vs_base - reference.win_rate_vs_base);
  const p = (d: number | null, half: number) => (d === null ? null : 2 * (1 - normalCdf(Math.abs(d) / (half / 1.96))));
  return {
    harm_reduction_pts: harm,
    harm_reduction_pts_ci: around(harm, 8),
    win_rate_pts: win,
    win_rate_pts_ci: around(win, 6),
    harm_within_noise: harm === null ? null : Math.abs(harm) < 8,
    win_within_noise: win === null ? null : Math.abs(win) < 6,
    harm_p: p(harm, 8),
    harm_significant: null,
    win_p: p(win, 6),
    win_significant: null,
  };
}

function realisticReport(): Report {
  const models: Record<string, ModelReport> = {};
  MODELS.forEach(([name, harm, win, extra], i) => {
    const languages = Object.fromEntries(
      LANGUAGES.map((language, j) => {
        if (language === UNDEFINED_LANGUAGE) return [language, metricsCell(null, win === null ? null : win + jitter(i, j, 3), 200, harm === null ? undefined : UNDEFINED_REASON)];
        const cell = metricsCell(harm === null ? null : harm + jitter(i, j, 0), win === null ? null : win + jitter(i, j, 5), 200);
        return [language, cell];
      }),
    );
    models[name] = { ...extra, source: `models/${name}`, languages, overall: metricsCell(harm, win, 1200), samples: { redteam: [], general: [] } };
  });
  const outlier = models[OUTLIER.model]!.languages[OUTLIER.language]!;
  outlier.harm_rel_change_vs_base = OUTLIER.value;
  outlier.harm_rel_change_vs_base_ci = OUTLIER.ci;
  const reference = models.mix15!;
  for (const [name, model] of Object.entries(models)) {
    if (name === "base" || name === "mix15") continue;
    model.deltas_vs_reference = Object.fromEntries(
      [...LANGUAGES, "overall"].map((group) => {
        const cell = group === "overall" ? model.overall : model.languages[group]!;
        const ref = group === "overall" ? reference.overall : reference.languages[group]!;
        return [group, deltaCell(cell, ref)];
      }),
    );
  }
  const regression = models[REGRESSION.model]!.deltas_vs_reference![REGRESSION.language]!;
  Object.assign(regression, { win_rate_pts: REGRESSION.win, win_rate_pts_ci: REGRESSION.ci, win_within_noise: false, win_p: 0.00001 });
  // Holm over every delta of the report, as build.ts does.
  const deltas = Object.values(models).flatMap((m) => Object.values(m.deltas_vs_reference ?? {}));
  const tests = deltas.flatMap((d) => [[d, "harm"], [d, "win"]] as const).filter(([d, which]) => d[`${which}_p`] !== null);
  const adjusted = holm(tests.map(([d, which]) => d[`${which}_p`]!));
  tests.forEach(([d, which], k) => (d[`${which}_significant`] = adjusted[k]! < 0.05));

  const report: Report = {
    schema_version: REPORT_SCHEMA_VERSION,
    experiment: { name: "Mix or merge <fixtures>", description: "Six languages, the paper's SFT models.", languages: LANGUAGES, base: "base", reference: "mix15", fixtures: true, paper: "table1-sft" },
    judges: {
      harm: { name: "refusal-proxy", languages: ["en"], uncovered: LANGUAGES.slice(1), proxy_note: "Keyword proxy for Llama Guard, not the paper's judge." },
      preference: { name: "pairwise", languages: LANGUAGES, uncovered: [], model: "gpt-4o-2024-08-06", endpoint_host: "api.openai.com" },
    },
    generation: { max_tokens: 256, temperature: 0, seed: 7, limit_per_language: 200 },
    models,
    statistics: {
      level: 0.95,
      intervals: ["Rates: Wilson score intervals (Wilson 1927).", "Harm change and differences from the mix: paired cluster bootstrap over source prompts, 2,000 resamples (Efron & Tibshirani 1993)."],
      multiple_comparisons: `Holm–Bonferroni over ${tests.length} tests (family-wise 5%)`,
    },
    recommendations: {},
    judge_diagnostics: {},
    regressions: [{ model: REGRESSION.model, language: REGRESSION.language, metric: "win", points: -REGRESSION.win, ci: [-REGRESSION.ci[1], -REGRESSION.ci[0]] }],
    notes: ["The models are the bundled fixtures, not trained models: the numbers show the pipeline, not the paper's result.", "Both judges are offline proxies."],
  };
  for (const group of ["overall", ...LANGUAGES]) report.recommendations[group] = recommend(report, group);
  const paperModels: ReportModel[] = MODELS.map(([name, , , extra]) => ({ name, roles: extra.roles, source: "s", ...(extra.safety_mix !== undefined ? { safetyMix: extra.safety_mix } : {}), ...(extra.method ? { method: extra.method } : {}) }));
  report.paper = comparePaper("table1-sft", paperModels, report);
  return report;
}

const RULE = "Among the Pareto front of merges and mixes: the highest win rate among models with at least mix15's harm reduction.";

function recommend(report: Report, group: string): Recommendation {
  const points = Object.entries(report.models).flatMap(([model, m]): TradeOff[] => {
    const cell = group === "overall" ? m.overall : m.languages[group]!;
    const eligible = m.roles.includes("merge") || m.roles.includes("baseline");
    return eligible && cell.harm_rel_change_vs_base !== null && cell.win_rate_vs_base !== null ? [{ model, harmChange: cell.harm_rel_change_vs_base, winRate: cell.win_rate_vs_base }] : [];
  });
  const front = paretoFront(points).map((p) => p.model);
  if (front.length === 0) return { model: null, rule: RULE, reason: `No model has a harm change in ${group}: ${UNDEFINED_REASON}.`, front };
  const referenceHarm = (group === "overall" ? report.models.mix15!.overall : report.models.mix15!.languages[group]!).harm_rel_change_vs_base!;
  const safeEnough = front.filter((name) => points.find((p) => p.model === name)!.harmChange <= referenceHarm);
  const pick = safeEnough.sort((a, b) => points.find((p) => p.model === b)!.winRate - points.find((p) => p.model === a)!.winRate)[0];
  if (!pick) return { model: null, rule: RULE, reason: "No front model is at least as safe as mix15.", front };
  return { model: pick, rule: RULE, reason: `${pick} has the highest win rate on the front among the models at least as safe as mix15.`, front };
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escaped = (text: string) => text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
const point = (model: string, harmChange: number, winRate: number): TradeOff => ({ model, harmChange, winRate });

describe("paretoFront", () => {
  it("keeps the points nothing beats on both axes, by ascending harm change", () => {
    const points = [point("a", -50, 58), point("b", -65, 52), point("dominated", -45, 50), point("c", -10, 70)];
    expect(paretoFront(points).map((p) => p.model)).toEqual(["b", "a", "c"]);
  });
  it("keeps exact ties and drops a point equal on one axis and worse on the other", () => {
    const points = [point("x", -20, 60), point("twin", -20, 60), point("same-harm-worse-win", -20, 55), point("same-win-more-harm", -10, 60)];
    expect(paretoFront(points).map((p) => p.model)).toEqual(["twin", "x"]);
  });
  it("handles no points and one point", () => {
    expect(paretoFront([])).toEqual([]);
    expect(paretoFront([point("only", 0, 50)]).map((p) => p.model)).toEqual(["only"]);
  });
});

describe("axis domains", () => {
  it("give a span around values that are all equal, never a zero-width axis", () => {
    expect(robustDomain([0, 0, 0], { minSpan: 10 })).toEqual({ domain: [-6, 6], clippedLow: false, clippedHigh: false });
    expect(robustDomain([50, 50], { minSpan: 10, include: [50], limits: [0, 100] }).domain).toEqual([44, 56]);
  });
  it("clip far-out values so the bulk stays readable, and only then", () => {
    const bulk = [-65, -60, -58, -56, -52, -50, -49, -45, -41, -70, -40, -30];
    const clipped = robustDomain([...bulk, 435], { minSpan: 10 });
    expect(clipped.clippedHigh).toBe(true);
    expect(clipped.clippedLow).toBe(false);
    expect(clipped.domain[1]).toBeLessThan(0);
    expect(clipped.domain[0]).toBeLessThanOrEqual(-70);
    expect(robustDomain(bulk, { minSpan: 10 })).toMatchObject({ clippedLow: false, clippedHigh: false });
  });
});

describe("labels", () => {
  it("share one label for points on one spot, and shorten long lists", () => {
    const groups = groupSameSpot([
      { px: 10, py: 10, names: ["a"], priority: 1 },
      { px: 11, py: 10, names: ["b"], priority: 0 },
      { px: 50, py: 10, names: ["c"], priority: 2 },
    ]);
    expect(groups.map((g) => g.names)).toEqual([["b", "a"], ["c"]]);
    expect(labelText(["general", "mix15", "safety", "linear", "slerp", "ties"])).toBe("general, mix15, safety +3 more");
  });
  it("never overlap one another or a point, and say which found no room", () => {
    const crowd = Array.from({ length: 30 }, (_, i) => ({ px: 20 + (i % 3) * 3, py: 20 + Math.floor(i / 3) * 2, names: [`model-${i}`], priority: i }));
    const { placed, unplaced } = placeLabels(crowd, crowd, { width: 200, height: 60 });
    expect(placed.length + unplaced.length).toBe(30);
    expect(unplaced.length).toBeGreaterThan(0);
    const anchors = placed.map((l) => `${l.px},${l.py}`);
    expect(new Set(anchors).size).toBe(anchors.length);
  });
});

/** The text marks (not axis labels) of one chart's SVG with their positions, per panel (a concat's panels each have their own origin). */
function textMarks(svg: string): { panel: string; text: string; at: string }[] {
  const groups = [...svg.matchAll(/<g class="mark-text role-mark ([^"]*)"[^>]*>([\s\S]*?)<\/g>/g)];
  return groups.flatMap(([, name, inner]) =>
    [...inner!.matchAll(/<text[^>]*transform="translate\(([^)]*)\)"[^>]*>([^<]*)<\/text>/g)].map(([, at, text]) => ({ panel: /^concat_\d+/.exec(name!)?.[0] ?? "", text: text!, at: at! })),
  );
}

describe("charts", () => {
  it("are deterministic and self-contained", async () => {
    const report = realisticReport();
    const first = await renderCharts(report);
    const second = await renderCharts(report);
    expect(first.map((c) => c.id)).toEqual(["trade-off", "pareto-languages", "harm-change", "win-rate"]);
    expect(second).toEqual(first);
    for (const chart of first) {
      expect(chart.svg.startsWith("<svg")).toBe(true);
      expect(outsideUrls(chart.svg)).toEqual([]);
    }
  });

  it("leave out models with null values instead of failing", async () => {
    const [tradeOff, panels, harm, win] = await renderCharts(realisticReport());
    const oddLabel = "ties&lt;&amp;&gt;"; // vega escapes the text it draws
    expect(harm!.svg).toContain(oddLabel);
    expect(win!.svg).not.toContain(oddLabel);
    expect(tradeOff!.svg).not.toContain(oddLabel);
    expect(panels!.svg).not.toContain(oddLabel);
    expect(tradeOff!.svg).toContain("Pareto front (merges and mixes)");

    const allNull = realisticReport();
    for (const model of Object.values(allNull.models)) {
      for (const cell of [model.overall, ...Object.values(model.languages)]) cell.win_rate_vs_base = null;
    }
    await expect(renderCharts(allNull)).resolves.toHaveLength(4);
  });

  it("leave incomplete cells out (the tables mark them)", async () => {
    const report = realisticReport();
    report.models.linear!.overall.missing = { redteam: 12, general: 0 };
    report.models.linear!.languages.en!.missing = { redteam: 12, general: 0 };
    const [tradeOff, panels, harm] = await renderCharts(report);
    expect(textMarks(tradeOff!.svg).map((m) => m.text)).not.toContain("linear");
    expect(textMarks(panels!.svg).filter((m) => m.panel === "concat_0" || m.panel === "concat_1").map((m) => m.text)).not.toContain("linear");
    expect(textMarks(panels!.svg).map((m) => m.text)).toContain("linear"); // still on other languages' fronts
    expect(harm!.svg).toContain(">linear<"); // the legend: other cells are drawn
  });

  it("draw values that are all equal (all zero) on a readable axis", async () => {
    const flat = realisticReport();
    for (const model of Object.values(flat.models)) {
      for (const cell of [model.overall, ...Object.values(model.languages)]) {
        cell.harm_rel_change_vs_base = model.roles.includes("base") ? null : 0;
        cell.harm_rel_change_vs_base_ci = model.roles.includes("base") ? null : [0, 0];
      }
    }
    const harm = (await renderCharts(flat)).find((c) => c.id === "harm-change")!;
    expect(harm.svg).not.toContain("0.000000");
    expect(harm.svg).toMatch(/>−?[1-9]\d*</); // ticks either side of 0
    expect(harm.svg).toMatch(/aria-roledescription="symbol"|<path[^>]*d="M[^"]*"[^>]*fill="#/); // dots, not zero-height bars
  });

  it("clip the axis at an interval far out, mark it and name it", async () => {
    const harm = (await renderCharts(realisticReport())).find((c) => c.id === "harm-change")!;
    expect(harm.svg).toContain('fill="#b00020"'); // the triangle at the clipped end
    expect(harm.notes).toHaveLength(2);
    expect(harm.notes).toContain("Russian (ru): nothing to draw: undefined, " + UNDEFINED_REASON + ".");
    expect(harm.notes.find((n) => n.startsWith("Axis"))).toMatch(/^Axis clipped at -?\d+\.\d \(▲\): slerp-t0\.7 in Hindi \(hi\): 35\.0 \[-60\.0, 435\.0\]\.$/);
    const panels = (await renderCharts(realisticReport())).find((c) => c.id === "pareto-languages")!;
    expect(panels.notes).toContain("Hindi (hi): harm-change axis clipped at -40.0: slerp-t0.7 (35.0%) drawn at the edge as ◀/▶.");
  });

  it("draw a Pareto panel per language and overall, with the front, and no two labels on one spot", async () => {
    const report = realisticReport();
    const charts = await renderCharts(report);
    const panels = charts.find((c) => c.id === "pareto-languages")!;
    for (const title of ["All languages", "English (en)", "Hindi (hi)", "French (fr)", "Spanish (es)", "Arabic (ar)", "Russian (ru)"]) expect(panels.svg).toContain(`>${title}<`);
    for (const chart of charts.filter((c) => c.id === "trade-off" || c.id === "pareto-languages")) {
      const marks = textMarks(chart.svg);
      expect(marks.length).toBeGreaterThan(0);
      expect(new Set(marks.map((m) => `${m.panel} ${m.at}`)).size).toBe(marks.length);
    }
    // The overall chart labels the pick.
    expect(textMarks(charts[0]!.svg).map((m) => m.text)).toContain(`${report.recommendations.overall!.model} (pick)`);
  });
});

describe("html", () => {
  it("names every language and model, escapes names and loads nothing from outside", async () => {
    const report = realisticReport();
    const html = renderHtml(report, await renderCharts(report));
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('<meta charset="utf-8">');
    for (const lang of [...LANGUAGES, "overall"]) expect(html).toContain(`<h3 id="lang-${lang}">`);
    for (const [name] of MODELS) expect(html).toContain(escaped(name));
    expect(html).not.toContain(ODD_MERGE);
    expect(html).toContain(escaped(report.experiment.name));
    for (const note of report.notes) expect(html).toContain(escaped(note));
    expect(html).toContain("Keyword proxy for Llama Guard");
    expect(html).toContain("hi, fr, es, ar, ru");
    expect(html).toContain("Mix Data or Merge Models?");
    expect(outsideUrls(html)).toEqual([]);
    expect(html).not.toMatch(/<script|<link|<img|@import/i);
    expect(renderHtml(report, await renderCharts(report))).toBe(html);
  });

  it("opens with the decision: recommendations, then regressions, then the notes", async () => {
    const report = realisticReport();
    const html = renderHtml(report, await renderCharts(report));
    const h2s = [...html.matchAll(/<h2 id="([^"]+)"/g)].map(([, id]) => id);
    expect(h2s.slice(0, 6)).toEqual(["recommendations", "regressions", "notes", "setup", "reading", "charts"]);
    expect(html.indexOf("<h2")).toBeGreaterThan(html.indexOf("<h1>"));
    const overall = report.recommendations.overall!;
    expect(html).toContain(`<p class="rule"><strong>Rule:</strong> ${escaped(RULE)}</p>`);
    expect(html).toContain(`<tr><th scope="row">All languages</th><td class="pick">${overall.model}</td>`);
    expect(html).toContain(`<tr><th scope="row">Russian (ru)</th><td class="no-pick">no clear winner</td>`);
    expect(html).toContain(overall.front.join(", "));
    expect(html).toContain("dare-ties is worse than mix15 in Arabic (ar): 12.0 win-rate points lost [4.0, 20.0], significant after Holm");
    expect(html.indexOf("win-rate points lost")).toBeLessThan(html.indexOf('id="notes"'));
  });

  it("states the statistics, the judges' models and hosts, and each cell's detectable difference", async () => {
    const report = realisticReport();
    const html = renderHtml(report, await renderCharts(report));
    expect(html).toContain("Intervals are 95% intervals:");
    for (const line of report.statistics.intervals) expect(html).toContain(escaped(line));
    expect(html).toContain(`Many comparisons: ${report.statistics.multiple_comparisons}.`);
    expect(html).toContain("pairwise (model gpt-4o-2024-08-06 at api.openai.com)");
    const cell = report.models.linear!.languages.en!;
    expect(html).toContain(`title="smallest detectable difference ±${cell.mde_pts.harm!.toFixed(1)} pts at n = 200">200<span class="ci">±${cell.mde_pts.harm!.toFixed(1)} pts</span></td>`);
    expect(html).toContain(`title="smallest detectable difference ±${cell.mde_pts.win!.toFixed(1)} pts at n = 200">200<span class="ci">±${cell.mde_pts.win!.toFixed(1)} pts</span></td>`);
  });

  it("writes differences in words with their sign, and marks noise and significance on differences only", async () => {
    const report = realisticReport();
    const html = renderHtml(report, await renderCharts(report));
    expect(html).toMatch(/>\+\d+\.\d pts less harm</);
    expect(html).toMatch(/>−\d+\.\d pts: more harm</);
    expect(html).toMatch(/>[+−]\d+\.\d win-rate pts</);
    expect(html).not.toMatch(/\([+-]\d+\.\d\)/); // no bare brackets
    expect(html).toContain('<span class="qualifier noise">within noise</span>');
    expect(html).toContain('<span class="qualifier">significant after Holm</span>');
    expect(html).toContain('class="diff sig-worse">−12.0 win-rate pts<span class="ci">[−20.0, −4.0]</span>');
    // Rates carry no qualifier: only td.diff cells do.
    for (const [, cell] of html.matchAll(/<td class="num[^"]*">([^]*?)<\/td>/g)) expect(cell).not.toContain("within noise");
  });

  it("shows an undefined harm change as undefined, with its reason", async () => {
    const report = realisticReport();
    const html = renderHtml(report, await renderCharts(report));
    const ru = html.slice(html.indexOf('<h3 id="lang-ru">'), html.indexOf('<h3 id="lang-overall">'));
    const rows = [...ru.matchAll(/<tr><th scope="row">([^<]*)<\/th><td class="roles">[^<]*<\/td><td class="num">([^]*?)<\/td><td class="(?:num|diff)">([^]*?)<\/td>/g)];
    expect(rows).toHaveLength(MODELS.length);
    for (const [, name, harmChange, harmDelta] of rows) {
      if (name === "base") continue;
      expect(harmChange, name).toContain(`<abbr class="undefined" title="${escaped(UNDEFINED_REASON)}">undefined</abbr><sup><a href="#undefined-ru-1">1</a></sup>`);
      if (name !== "mix15") expect(harmDelta, name).toContain(">undefined</abbr>");
    }
    expect(ru).toContain(`<li id="undefined-ru-1">Harm change undefined: ${escaped(UNDEFINED_REASON)}</li>`);
  });

  it("shows every paper row: each candidate of an ambiguous row, and how paper_row picks one", async () => {
    const report = realisticReport();
    const html = renderHtml(report, await renderCharts(report));
    const paper = html.slice(html.indexOf('<h2 id="paper">'));
    for (const row of ["0% Safety Mix", "15% Safety Mix", "100% Safety Mix", "Linear", "DARE-TIES"]) expect(paper).toContain(`<th scope="row">${row}</th>`);
    expect(paper).toContain('<th scope="row" rowspan="3">SLERP<span class="ci">3 candidates</span></th><td class="model">slerp-t0.3</td>');
    expect(paper).toContain('<th scope="row" rowspan="2">TIES<span class="ci">2 candidates</span></th><td class="model">ties</td>');
    for (const name of ["slerp-t0.5", "slerp-t0.7", escaped(ODD_MERGE)]) expect(paper).toContain(`<tr><td class="model">${name}</td>`);
    expect(paper).toContain("SLERP: 3 candidates (slerp-t0.3, slerp-t0.5, slerp-t0.7), each shown; <code>paper_row: SLERP</code> on one of them picks it.");
    expect(paper).toContain(`TIES: 2 candidates (ties, ${escaped(ODD_MERGE)})`);
    // slerp-t0.3: ours, then the paper's and ours − paper
    expect(paper).toContain('<td class="num">-52.0<span class="ci">paper -58.2 · +6.2</span></td>');
  });

  it.skipIf(SKIP_BROWSER)(
    `renders in headless Chromium with no errors, no outside requests and no overlapping labels${SKIP_BROWSER ? ` (skipped: no Chromium at ${CHROME_PATH})` : ""}`,
    async () => {
      expect(HAS_CHROMIUM, `Chromium not found at ${CHROME_PATH} (set CHROME_PATH)`).toBe(true);
      const report = realisticReport();
      const dir = await mkdtemp(join(tmpdir(), "mergeval-report-"));
      const file = join(dir, "report.html");
      const html = renderHtml(report, await renderCharts(report));
      await writeFile(file, html);
      if (process.env.REPORT_HTML) await writeFile(process.env.REPORT_HTML, html);
      const fileUrl = pathToFileURL(file).href;
      let browser: Browser | undefined;
      try {
        browser = await puppeteer.launch({ executablePath: CHROME_PATH, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
        const page = await browser.newPage();
        await page.setViewport({ width: 1400, height: 1000 });
        const consoleErrors: string[] = [];
        const pageErrors: string[] = [];
        const outsideRequests: string[] = [];
        page.on("console", (message) => {
          if (message.type() === "error") consoleErrors.push(message.text());
        });
        page.on("pageerror", (error) => pageErrors.push(String(error)));
        await page.setRequestInterception(true);
        page.on("request", (request) => {
          const url = request.url();
          if (url === fileUrl || url.startsWith("data:")) return void request.continue();
          outsideRequests.push(url);
          void request.abort();
        });
        await page.goto(fileUrl, { waitUntil: "load" });
        if (process.env.REPORT_SCREENSHOT) await page.screenshot({ path: process.env.REPORT_SCREENSHOT as `${string}.png`, fullPage: true });

        const boxes = await page.$$eval("svg", (svgs) => svgs.map((svg) => svg.getBoundingClientRect()).map((r) => [r.width, r.height]));
        const text = await page.$eval("body", (body) => body.innerText);
        const headings = await page.$$eval("h3", (hs) => hs.map((h) => h.textContent));
        // Label boxes as drawn, per chart: no two may intersect.
        const overlaps = await page.$$eval("#chart-trade-off svg, #chart-pareto-languages svg", (svgs) =>
          svgs.flatMap((svg) => {
            const rects = [...svg.querySelectorAll("g.mark-text.role-mark text")].map((t) => ({ text: t.textContent, r: t.getBoundingClientRect() }));
            return rects.flatMap((a, i) =>
              rects.slice(i + 1).filter((b) => a.r.left < b.r.right - 0.5 && b.r.left < a.r.right - 0.5 && a.r.top < b.r.bottom - 0.5 && b.r.top < a.r.bottom - 0.5).map((b) => `${a.text} × ${b.text}`),
            );
          }),
        );

        expect(consoleErrors).toEqual([]);
        expect(pageErrors).toEqual([]);
        expect(outsideRequests).toEqual([]);
        expect(overlaps).toEqual([]);
        expect(boxes.length).toBeGreaterThanOrEqual(4);
        for (const [width, height] of boxes) {
          expect(width).toBeGreaterThan(0);
          expect(height).toBeGreaterThan(0);
        }
        expect(headings).toEqual(["English (en)", "Hindi (hi)", "French (fr)", "Spanish (es)", "Arabic (ar)", "Russian (ru)", "All languages"]);
        for (const [name] of MODELS) expect(text).toContain(name);
        expect(text.indexOf("Recommendations")).toBeLessThan(text.indexOf("Read this first"));
      } finally {
        await browser?.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

function outsideUrls(markup: string): string[] {
  return [...markup.matchAll(/https?:\/\/[^\s"'<>)]*/gi)].map(([url]) => url).filter((url) => !NAMESPACES.has(url));
}
