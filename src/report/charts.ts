import { compareText } from "../util/order.ts";
import * as vega from "vega";
import * as vl from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import type { Ci, MetricsCell, ModelReport, ModelRole, Report } from "./types.ts";

export interface Chart {
  id: string;
  title: string;
  svg: string;
}

/** One model's place in the safety/quality trade-off (overall). */
export interface TradeOff {
  model: string;
  /** Harm change vs base, %: lower is better. */
  harmChange: number;
  /** Win rate vs base, %: higher is better. */
  winRate: number;
}

const OVERALL = "overall";
const FRONT_LABEL = "Pareto front (merges)";
/** A model with several roles is drawn as the first of these it has: experts are the merges' inputs, so they outrank the plain baseline role. */
const ROLE_PRIORITY: ModelRole[] = ["base", "merge", "expert", "baseline"];

export async function renderCharts(report: Report): Promise<Chart[]> {
  const specs: [id: string, title: string, spec: TopLevelSpec][] = [
    ["harm-change", "Harm change vs base per language (%, lower is better)", harmChangeSpec(report)],
    ["win-rate", "Win rate vs base per language (%, higher is better)", winRateSpec(report)],
    ["trade-off", "Harm change vs win rate, overall", tradeOffSpec(report)],
  ];
  const charts: Chart[] = [];
  for (const [id, title, spec] of specs) charts.push({ id, title, svg: await renderSvg(id, spec) });
  return charts;
}

/**
 * The points no other point beats on both axes (lower harm change, higher win rate), by ascending harm change.
 * Identical points do not dominate each other, so ties are all kept.
 */
export function paretoFront<T extends TradeOff>(points: readonly T[]): T[] {
  const dominates = (a: T, b: T) =>
    a.harmChange <= b.harmChange && a.winRate >= b.winRate && (a.harmChange < b.harmChange || a.winRate > b.winRate);
  return points
    .filter((p) => !points.some((q) => dominates(q, p)))
    .sort((a, b) => a.harmChange - b.harmChange || b.winRate - a.winRate || compareText(a.model, b.model));
}

function harmChangeSpec(report: Report): TopLevelSpec {
  return groupedBarSpec(report, "harm_rel_change_vs_base", "Harm change vs base (%)");
}

function winRateSpec(report: Report): TopLevelSpec {
  const spec = groupedBarSpec(report, "win_rate_vs_base", "Win rate vs base (%)");
  return { ...spec, layer: [...spec.layer, parityRule(50)] };
}

function tradeOffSpec(report: Report): TopLevelSpec {
  const points = Object.entries(report.models).flatMap(([model, m]) => {
    const { harm_rel_change_vs_base: harmChange, win_rate_vs_base: winRate } = m.overall;
    // An incomplete model's point would stand for prompts it never answered: left out, as the report's note says.
    return harmChange === null || winRate === null || m.overall.missing ? [] : [{ model, role: primaryRole(m), harmChange, winRate }];
  });
  const front = paretoFront(points.filter((p) => p.role === "merge"));
  const x = { field: "harmChange", type: "quantitative", title: "Harm change vs base, overall (%) ← better", scale: { zero: false } } as const;
  const y = { field: "winRate", type: "quantitative", title: "Win rate vs base, overall (%) → better", scale: { zero: false } } as const;
  const role = { field: "role", type: "nominal", title: "Role", scale: { domain: ROLE_PRIORITY } } as const;
  return {
    description: "Overall harm change against overall win rate, one point per model, with the Pareto front of the merges.",
    width: 460,
    height: 320,
    layer: [
      {
        data: { values: front },
        mark: { type: "line", color: "#555" },
        encoding: {
          x, y,
          order: { field: "harmChange" },
          strokeDash: { datum: FRONT_LABEL, type: "nominal", title: null, scale: { range: [[6, 3]] }, legend: { labelLimit: 0 } },
        },
      },
      {
        data: { values: points },
        mark: { type: "point", filled: true, size: 90 },
        encoding: { x, y, color: role, shape: role },
      },
      {
        data: { values: points },
        mark: { type: "text", align: "left", dx: 7, dy: -7, fontSize: 10 },
        encoding: { x, y, text: { field: "model" } },
      },
    ],
  };
}

type BarMetric = "harm_rel_change_vs_base" | "win_rate_vs_base";

interface BarRow {
  group: string;
  model: string;
  value: number;
  low: number | null;
  high: number | null;
}

/** One bar group per language plus `overall`, one bar per model, with the 95% interval where there is one. */
function groupedBarSpec(report: Report, metric: BarMetric, title: string) {
  const groups = [...report.experiment.languages, OVERALL];
  const rows = Object.entries(report.models).flatMap(([model, m]) =>
    groups.flatMap((group): BarRow[] => {
      const cell = cellOf(m, group);
      const value = cell?.[metric] ?? null;
      if (value === null || cell?.missing) return [];
      const ci: Ci | null = cell?.[`${metric}_ci`] ?? null;
      return [{ group, model, value, low: ci?.[0] ?? null, high: ci?.[1] ?? null }];
    }),
  );
  const models = Object.keys(report.models).filter((model) => rows.some((r) => r.model === model));
  const colours = modelColours(report);
  const x = { field: "group", type: "nominal", sort: groups, title: "Language", axis: { labelAngle: 0 } } as const;
  const xOffset = { field: "model", type: "nominal", sort: models } as const;
  return {
    description: `${title} per language and overall, one bar per model, with 95% intervals.`,
    width: { step: 14, for: "offset" },
    height: 260,
    data: { values: rows },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          x, xOffset,
          y: { field: "value", type: "quantitative", title },
          color: { field: "model", type: "nominal", title: "Model", scale: { domain: models, range: models.map((model) => colours.get(model)!) } },
        },
      },
      {
        transform: [{ filter: "isValid(datum.low) && isValid(datum.high)" }],
        mark: { type: "rule", color: "#222" },
        encoding: { x, xOffset, y: { field: "low", type: "quantitative" }, y2: { field: "high" } },
      },
    ],
  } satisfies TopLevelSpec;
}

function parityRule(at: number) {
  return {
    data: { values: [{ at }] },
    mark: { type: "rule" as const, strokeDash: [4, 4], color: "#888" },
    encoding: { y: { field: "at", type: "quantitative" as const } },
  };
}

/** Fixed per model, so a model left out of one chart does not shift the others' colours. */
function modelColours(report: Report): Map<string, string> {
  const names = Object.keys(report.models);
  const palette = vega.scheme(names.length <= 10 ? "tableau10" : "tableau20") as string[];
  return new Map(names.map((name, i) => [name, palette[i % palette.length]!]));
}

function cellOf(model: ModelReport, group: string): MetricsCell | undefined {
  return group === OVERALL ? model.overall : model.languages[group];
}

function primaryRole(model: ModelReport): ModelRole {
  return ROLE_PRIORITY.find((role) => model.roles.includes(role)) ?? "baseline";
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
