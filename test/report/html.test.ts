import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer, { type Browser } from "puppeteer-core";
import { describe, expect, it } from "vitest";
import { paretoFront, renderCharts, type TradeOff } from "../../src/report/charts.ts";
import { renderHtml } from "../../src/report/html.ts";
import { REPORT_SCHEMA_VERSION, type DeltaCell, type MetricsCell, type ModelReport, type Report } from "../../src/report/types.ts";

const LANGUAGES = ["en", "hi", "fr", "es", "ar", "ru"];
/** A user-chosen name that must be escaped everywhere; its win rate is null, so the trade-off chart leaves it out. */
const ODD_MERGE = `ties<&>"v2"`;
const NAMESPACES = new Set(["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml"]);
const CHROME_PATH = process.env.CHROME_PATH ?? "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROME_PATH);
/** Without a browser, skip locally but fail in CI, where .ci/run installs one. */
const SKIP_BROWSER = !HAS_CHROMIUM && !process.env.CI;
if (SKIP_BROWSER) console.warn(`Skipping the headless Chromium report test: no Chromium at ${CHROME_PATH} (set CHROME_PATH).`);

const ci = (value: number | null, half: number): [number, number] | null => (value === null ? null : [value - half, value + half]);

function metricsCell(harm: number, win: number | null): MetricsCell {
  const harmful = 40 * (1 + harm / 100);
  return {
    harmful_rate: harmful,
    harmful_rate_ci: ci(harmful, 4),
    harm_rel_change_vs_base: harm,
    harm_rel_change_vs_base_ci: ci(harm, 8),
    win_rate_vs_base: win,
    win_rate_vs_base_ci: ci(win, 5),
    n_redteam: 50,
    n_general: 40,
    unparsable: 1,
    in_language_rate: 96.4,
    order_consistency: null,
  };
}

function deltaCell(model: MetricsCell, reference: MetricsCell): DeltaCell {
  const harm = reference.harm_rel_change_vs_base! - model.harm_rel_change_vs_base!;
  const win = model.win_rate_vs_base === null ? null : model.win_rate_vs_base - reference.win_rate_vs_base!;
  return {
    harm_reduction_pts: harm,
    harm_reduction_pts_ci: ci(harm, 6),
    win_rate_pts: win,
    win_rate_pts_ci: ci(win, 6),
    harm_within_noise: Math.abs(harm) < 6,
    win_within_noise: win === null ? null : Math.abs(win) < 6,
  };
}

/** Overall values; each language shifts them a little so the bars differ. */
const MODELS: [name: string, harm: number, win: number | null, extra: Pick<ModelReport, "roles" | "safety_mix" | "method" | "sweep">][] = [
  ["base", 0, 50, { roles: ["base"] }],
  ["general", -5, 62, { roles: ["baseline", "expert"], safety_mix: 0 }],
  ["mix15", -40, 55, { roles: ["baseline"], safety_mix: 15 }],
  ["safety", -80, 35, { roles: ["baseline", "expert"], safety_mix: 100 }],
  ["slerp-t0.3", -50, 58, { roles: ["merge"], method: "slerp", sweep: { t: 0.3 } }],
  ["slerp-t0.5", -65, 52, { roles: ["merge"], method: "slerp", sweep: { t: 0.5 } }],
  ["slerp-t0.7", -45, 50, { roles: ["merge"], method: "slerp", sweep: { t: 0.7 } }],
  [ODD_MERGE, -70, null, { roles: ["merge"], method: "ties" }],
];

function syntheticReport(): Report {
  const cellsOf = (harm: number, win: number | null) =>
    Object.fromEntries(LANGUAGES.map((lang, i) => [lang, metricsCell(harm + i - 2.5, win === null ? null : win + (i % 3) - 1)]));
  const models: Record<string, ModelReport> = Object.fromEntries(
    MODELS.map(([name, harm, win, extra]) => [
      name,
      { ...extra, source: `merges/${name}`, languages: cellsOf(harm, win), overall: metricsCell(harm, win), samples: { redteam: [], general: [] } },
    ]),
  );
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
  return {
    schema_version: REPORT_SCHEMA_VERSION,
    experiment: { name: "Mix or merge <fixtures>", languages: LANGUAGES, base: "base", reference: "mix15", fixtures: true, paper: "aakanksha2024" },
    judges: {
      harm: { name: "refusal-proxy", languages: ["en"], uncovered: LANGUAGES.slice(1), proxy_note: "Keyword proxy for Llama Guard, not the paper's judge." },
      preference: { name: "chrf-proxy", languages: LANGUAGES, uncovered: [], proxy_note: "chrF against a reference stands in for GPT-4." },
    },
    generation: { max_tokens: 64, temperature: 0, seed: 7 },
    models,
    paper: {
      id: "aakanksha2024",
      title: "Mix Data or Merge Models?",
      source: "Table 1",
      cells: [
        { model: "slerp-t0.5", paper_row: "SLERP", metric: "harm_rel_change_vs_base", paper: -62.1, ours: -65, difference: -2.9 },
        { model: ODD_MERGE, paper_row: "TIES", metric: "win_rate_vs_base", paper: 51.3, ours: null, difference: null },
      ],
    },
    notes: ["The models are the bundled fixtures, not trained models: the numbers show the pipeline, not the paper's result.", "Both judges are offline proxies."],
  };
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

describe("charts", () => {
  it("are deterministic and self-contained", async () => {
    const report = syntheticReport();
    const first = await renderCharts(report);
    const second = await renderCharts(report);
    expect(first.map((c) => c.id)).toEqual(["harm-change", "win-rate", "trade-off"]);
    expect(second).toEqual(first);
    for (const chart of first) {
      expect(chart.svg.startsWith("<svg")).toBe(true);
      expect(outsideUrls(chart.svg)).toEqual([]);
    }
  });
  it("leave out models with null values instead of failing", async () => {
    const [harm, win, tradeOff] = await renderCharts(syntheticReport());
    const oddLabel = "ties&lt;&amp;&gt;"; // vega escapes the text it draws
    expect(harm!.svg).toContain(oddLabel);
    expect(win!.svg).not.toContain(oddLabel);
    expect(tradeOff!.svg).not.toContain(oddLabel);
    expect(tradeOff!.svg).toContain("Pareto front (merges)");

    const allNull = syntheticReport();
    for (const model of Object.values(allNull.models)) {
      for (const cell of [model.overall, ...Object.values(model.languages)]) cell.win_rate_vs_base = null;
    }
    await expect(renderCharts(allNull)).resolves.toHaveLength(3);
  });
});

describe("html", () => {
  it("names every language and model, escapes names and loads nothing from outside", async () => {
    const report = syntheticReport();
    const html = renderHtml(report, await renderCharts(report));
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('<meta charset="utf-8">');
    for (const lang of [...LANGUAGES, "overall"]) expect(html).toContain(`<h3 id="lang-${lang}">${lang}</h3>`);
    for (const [name] of MODELS) expect(html).toContain(escaped(name));
    expect(html).not.toContain(ODD_MERGE);
    expect(html).toContain(escaped(report.experiment.name));
    for (const note of report.notes) expect(html).toContain(escaped(note));
    expect(html).toContain("Keyword proxy for Llama Guard");
    expect(html).toContain("hi, fr, es, ar, ru");
    expect(html).toContain("within noise");
    expect(html).toMatch(/\(\+\d+\.\d\)/);
    expect(html).toContain("Mix Data or Merge Models?");
    expect(outsideUrls(html)).toEqual([]);
    expect(html).not.toMatch(/<script|<link|<img|@import/i);
    expect(renderHtml(report, await renderCharts(report))).toBe(html);
  });

  it.skipIf(SKIP_BROWSER)(
    `renders in headless Chromium with no errors and no outside requests${SKIP_BROWSER ? ` (skipped: no Chromium at ${CHROME_PATH})` : ""}`,
    async () => {
      expect(HAS_CHROMIUM, `Chromium not found at ${CHROME_PATH} (set CHROME_PATH)`).toBe(true);
      const report = syntheticReport();
      const dir = await mkdtemp(join(tmpdir(), "mergeval-report-"));
      const file = join(dir, "report.html");
      await writeFile(file, renderHtml(report, await renderCharts(report)));
      const fileUrl = pathToFileURL(file).href;
      let browser: Browser | undefined;
      try {
        browser = await puppeteer.launch({ executablePath: CHROME_PATH, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
        const page = await browser.newPage();
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

        const boxes = await page.$$eval("svg", (svgs) => svgs.map((svg) => svg.getBoundingClientRect()).map((r) => [r.width, r.height]));
        const text = await page.$eval("body", (body) => body.innerText);
        const headings = await page.$$eval("h3", (hs) => hs.map((h) => h.textContent));

        expect(consoleErrors).toEqual([]);
        expect(pageErrors).toEqual([]);
        expect(outsideRequests).toEqual([]);
        expect(boxes.length).toBeGreaterThanOrEqual(3);
        for (const [width, height] of boxes) {
          expect(width).toBeGreaterThan(0);
          expect(height).toBeGreaterThan(0);
        }
        expect(headings).toEqual([...LANGUAGES, "overall"]);
        for (const lang of LANGUAGES) expect(text).toContain(lang);
        for (const [name] of MODELS) expect(text).toContain(name);
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
