import * as vega from "vega";
import * as vl from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import { intervalChart } from "./chart-intervals.ts";
import { paretoPanelsChart, tradeOffChart, type ChartParts } from "./chart-pareto.ts";
import type { Report } from "./types.ts";

export { paretoFront, type TradeOff } from "./chart-pareto.ts";

export interface Chart {
  id: string;
  title: string;
  svg: string;
  /** What the drawing cannot show (clipped values, points on one spot, labels left out): printed under it. */
  notes: string[];
}

/** The report's charts, decision first: the overall trade-off, the per-language fronts, then each metric per language. */
export async function renderCharts(report: Report): Promise<Chart[]> {
  const colours = modelColours(report);
  const parts: [id: string, title: string, parts: ChartParts][] = [
    ["trade-off", "Harm change vs win rate, overall, with the Pareto front of merges and mixes", tradeOffChart(report)],
    ["pareto-languages", "Harm change vs win rate per language: each language's Pareto front", paretoPanelsChart(report)],
    ["harm-change", "Harm change vs base per language (%, lower is better)", intervalChart(report, "harm_rel_change_vs_base", colours)],
    ["win-rate", "Win rate vs base per language (%, higher is better)", intervalChart(report, "win_rate_vs_base", colours)],
  ];
  const charts: Chart[] = [];
  for (const [id, title, { spec, notes }] of parts) charts.push({ id, title, svg: await renderSvg(id, spec), notes });
  return charts;
}

/** Fixed per model, so a model left out of one chart does not shift the others' colours. */
function modelColours(report: Report): Map<string, string> {
  const names = Object.keys(report.models);
  const palette = vega.scheme(names.length <= 10 ? "tableau10" : "tableau20") as string[];
  return new Map(names.map((name, i) => [name, palette[i % palette.length]!]));
}

async function renderSvg(chartId: string, spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return scopeIds(chartId, await view.toSVG());
  } finally {
    view.finalize();
  }
}

/**
 * vega numbers clip paths from a process-wide counter: renumber every id per chart so the SVG is the same on each
 * run and several charts inlined in one page never share an id.
 */
function scopeIds(chartId: string, svg: string): string {
  const ids = new Map<string, string>();
  for (const [, id] of svg.matchAll(/\sid="([^"]+)"/g)) {
    if (id !== undefined && !ids.has(id)) ids.set(id, `${chartId}-${ids.size + 1}`);
  }
  return svg.replace(/(\sid="|url\(#|href="#)([^")]+)/g, (whole, prefix: string, id: string) => {
    const scoped = ids.get(id);
    return scoped === undefined ? whole : prefix + scoped;
  });
}
