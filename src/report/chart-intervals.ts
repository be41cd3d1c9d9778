import type { TopLevelSpec } from "vega-lite";
import { clampTo, onAxis, robustDomain, type ClipSide } from "./chart-axis.ts";
import type { ChartParts } from "./chart-pareto.ts";
import type { Ci, Report } from "./types.ts";
import { cellOf, formatCi, formatNumber, groupName, OVERALL } from "./wording.ts";

type LayerChild = Extract<TopLevelSpec, { layer: unknown }>["layer"][number];

export type IntervalMetric = "harm_rel_change_vs_base" | "win_rate_vs_base";

const CLIP_COLOUR = "#b00020";

interface IntervalRow {
  group: string;
  model: string;
  /** As drawn: clipped to the axis. */
  value: number;
  low: number | null;
  high: number | null;
  /** The numbers themselves, for the notes. */
  actual: { value: number; low: number | null; high: number | null };
  clipped: ClipSide[];
}

const SETTINGS: Record<IntervalMetric, { title: string; parity: number; limits: [number, number]; parityNote: string }> = {
  harm_rel_change_vs_base: { title: "Harm change vs base (%)", parity: 0, limits: [-100, Infinity], parityNote: "0 = the base" },
  win_rate_vs_base: { title: "Win rate vs base (%)", parity: 50, limits: [0, 100], parityNote: "50 = as good as the base" },
};

/**
 * One column of dots per language and overall, a dot per model with its interval: a dot shows a zero as clearly
 * as any other value (a bar of height 0 does not). Values and interval ends far out are clipped at the axis and
 * marked with a triangle; the notes name them with their numbers.
 */
export function intervalChart(report: Report, metric: IntervalMetric, colours: ReadonlyMap<string, string>): ChartParts {
  const settings = SETTINGS[metric];
  const groups = [...report.experiment.languages, OVERALL];
  const raw = Object.keys(report.models).flatMap((model) =>
    groups.flatMap((group) => {
      const cell = cellOf(report.models[model]!, group);
      const value = cell?.[metric] ?? null;
      // An incomplete cell would stand for prompts it never answered: the tables mark it, the charts leave it out.
      if (value === null || !cell || cell.missing) return [];
      const ci: Ci | null = cell[`${metric}_ci`];
      return [{ group, model, value, low: ci?.[0] ?? null, high: ci?.[1] ?? null }];
    }),
  );
  const axis = robustDomain(
    raw.flatMap((r) => [r.value, ...(r.low === null ? [] : [r.low]), ...(r.high === null ? [] : [r.high])]),
    { minSpan: 10, include: [settings.parity], limits: settings.limits },
  );
  const rows: IntervalRow[] = raw.map((r) => {
    const value = clampTo(axis.domain, r.value);
    const low = r.low === null ? null : clampTo(axis.domain, r.low);
    const high = r.high === null ? null : clampTo(axis.domain, r.high);
    const clipped = [...new Set([value.clipped, low?.clipped ?? null, high?.clipped ?? null].filter((c) => c !== null))];
    return { group: r.group, model: r.model, value: value.at, low: low?.at ?? null, high: high?.at ?? null, actual: { value: r.value, low: r.low, high: r.high }, clipped };
  });
  const models = Object.keys(report.models).filter((model) => rows.some((r) => r.model === model));
  // Every group keeps its column, an empty one too: the notes say why it is empty.
  const x = { field: "group", type: "nominal", sort: groups, scale: { domain: groups }, title: "Language", axis: { labelAngle: 0 } } as const;
  const xOffset = { field: "model", type: "nominal", sort: models } as const;
  const y = { field: "value", type: "quantitative", title: settings.title, scale: { domain: axis.domain, nice: false, zero: false } } as const;
  const color = { field: "model", type: "nominal", title: "Model", scale: { domain: models, range: models.map((m) => colours.get(m)!) } } as const;
  const marker = (side: ClipSide): LayerChild => ({
    data: { values: rows.filter((r) => r.clipped.includes(side)).map((r) => ({ ...r, value: side === "high" ? axis.domain[1] : axis.domain[0] })) },
    mark: { type: "point", shape: side === "high" ? "triangle-up" : "triangle-down", filled: true, size: 70, color: CLIP_COLOUR },
    encoding: { x, xOffset, y },
  });
  const parity: LayerChild[] = onAxis(axis, settings.parity) ? [{ data: { values: [{ value: settings.parity }] }, mark: { type: "rule", strokeDash: [4, 4], color: "#888" }, encoding: { y } }] : [];
  // Without a single dot the offset layers are left out, so no layer asks for a per-model offset scale.
  const layers: LayerChild[] = models.length === 0 ? parity : [
    ...parity,
    {
      data: { values: rows.filter((r) => r.low !== null && r.high !== null) },
      mark: { type: "rule", strokeWidth: 1.5 },
      encoding: { x, xOffset, y: { ...y, field: "low" }, y2: { field: "high" }, color },
    },
    { data: { values: rows.filter((r) => r.actual.value === r.value) }, mark: { type: "point", filled: true, size: 36, opacity: 1 }, encoding: { x, xOffset, y, color } },
    ...(axis.clippedHigh ? [marker("high")] : []),
    ...(axis.clippedLow ? [marker("low")] : []),
  ];
  const empty = groups.filter((g) => !rows.some((r) => r.group === g));
  if (empty.length) {
    const middle = (axis.domain[0] + axis.domain[1]) / 2;
    const values = empty.map((group) => ({ group, value: middle, text: undefinedReasons(report, metric, group).length ? "undefined" : "no data" }));
    // With dots, placed on the first model's offset slot so both layers share one x scale; without, centred.
    const text = { type: "text", fontSize: 12, color: "#666", angle: 0 } as const;
    layers.push(
      models.length
        ? { data: { values: values.map((v) => ({ ...v, model: models[0] })) }, mark: { ...text, align: "left" }, encoding: { x, xOffset, y, text: { field: "text", type: "nominal" } } }
        : { data: { values }, mark: text, encoding: { x, y, text: { field: "text", type: "nominal" } } },
    );
  }
  return {
    spec: {
      description: `${settings.title} per language and overall, one dot per model with its interval; dashed line: ${settings.parityNote}.`,
      // No dots at all: a plain band per group, wide enough for its "undefined" or "no data".
      width: models.length ? { step: 11, for: "offset" } : { step: 80 },
      height: 260,
      layer: layers,
    },
    notes: [...clipNotes(rows, axis.domain), ...emptyNotes(report, metric, empty)],
  };
}

/** "Axis clipped at -25.0 (▲): slerp-t0.7 in Hindi (hi): 35.0 [-60.0, 435.0]." */
function clipNotes(rows: readonly IntervalRow[], domain: readonly [number, number]): string[] {
  return (["high", "low"] as const).flatMap((side) => {
    const clipped = rows.filter((r) => r.clipped.includes(side));
    if (clipped.length === 0) return [];
    const edge = formatNumber(side === "high" ? domain[1] : domain[0]);
    const items = clipped.map((r) => `${r.model} in ${groupName(r.group)}: ${formatNumber(r.actual.value)}${r.actual.low === null || r.actual.high === null ? "" : ` ${formatCi([r.actual.low, r.actual.high])}`}`);
    return [`Axis clipped at ${edge} (${side === "high" ? "▲" : "▼"}): ${items.join("; ")}.`];
  });
}

/** Groups with nothing to draw, and why (an undefined harm change says its reason). */
function emptyNotes(report: Report, metric: IntervalMetric, groups: readonly string[]): string[] {
  return groups.map((group) => {
    const reasons = undefinedReasons(report, metric, group);
    return `${groupName(group)}: nothing to draw${reasons.length ? `: undefined, ${reasons.join("; ")}` : " (no complete cell has this number)"}.`;
  });
}

function undefinedReasons(report: Report, metric: IntervalMetric, group: string): string[] {
  if (metric !== "harm_rel_change_vs_base") return [];
  return [...new Set(Object.values(report.models).flatMap((m) => cellOf(m, group)?.harm_rel_change_undefined ?? []))];
}
