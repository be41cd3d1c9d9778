import { compareText } from "../util/order.ts";
import type { TopLevelSpec } from "vega-lite";
import { clampTo, onAxis, robustDomain, type AxisDomain, type ClipSide } from "./chart-axis.ts";
import { alongLine, groupSameSpot, LABEL_FONT_SIZE, labelText, placeLabels, type LabelledPoint, type PlacedLabel } from "./chart-labels.ts";
import type { ModelReport, ModelRole, Report } from "./types.ts";
import { cellOf, formatNumber, groupName, OVERALL } from "./wording.ts";

/** One model's place in the safety/quality trade-off. */
export interface TradeOff {
  model: string;
  /** Harm change vs base, %: lower is better. */
  harmChange: number;
  /** Win rate vs base, %: higher is better. */
  winRate: number;
}

type LayerChild = Extract<TopLevelSpec, { layer: unknown }>["layer"][number];
/** One scatter: alone it is the overall chart, several make the small multiples. */
interface PanelSpec {
  title?: string;
  width: number;
  height: number;
  layer: LayerChild[];
}

export interface ChartParts {
  spec: TopLevelSpec;
  /** What the drawing cannot show: clipped values, points sharing a spot, labels left out. */
  notes: string[];
}

const FRONT_LABEL = "Pareto front (merges and mixes)";
/** A model with several roles is drawn as the first of these it has: experts are the merges' inputs, so they outrank the plain baseline role. */
export const ROLE_PRIORITY: ModelRole[] = ["base", "merge", "expert", "baseline"];
const CLIP_COLOUR = "#b00020";
/** The ring around the pick: its area in vega's units, and how far it reaches (the ring's radius plus its stroke). */
const PICK_RING_SIZE = 260;
const PICK_RING_RADIUS = Math.sqrt(PICK_RING_SIZE / Math.PI) + 1.5;
const HARM_AXIS = "Harm change vs base (%) ← better";
const WIN_AXIS = "Win rate vs base (%) → better";

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

/** The overall trade-off, large: every point labelled unless there is no room (then named in a note). */
export function tradeOffChart(report: Report): ChartParts {
  const { spec, notes } = panel(report, OVERALL, { width: 540, height: 340, labelEveryone: true });
  const capitalised = notes.map((note) => note.charAt(0).toUpperCase() + note.slice(1));
  return { spec: { description: "Overall harm change against overall win rate, one point per model, with the Pareto front of the merges and mixes.", ...spec }, notes: capitalised };
}

/** Small multiples: one trade-off per language and overall, labelling the front, the pick and the reference. */
export function paretoPanelsChart(report: Report): ChartParts {
  const groups = [OVERALL, ...report.experiment.languages];
  const panels = groups.map((group) => panel(report, group, { width: 280, height: 190, labelEveryone: false, title: groupName(group) }));
  return {
    spec: {
      description: "Harm change against win rate per language and overall, one panel each, with each panel's Pareto front of merges and mixes.",
      columns: 3,
      spacing: { column: 30, row: 24 },
      concat: panels.map((p) => p.spec),
      resolve: { scale: { color: "shared", shape: "shared", strokeDash: "shared" } },
    },
    notes: byNote(panels.flatMap((p, i) => p.notes.map((note) => [groupName(groups[i]!), note] as const))),
  };
}

/** The same note from several panels once, naming them all: "English (en), Hindi (hi): on one spot: …". */
function byNote(notes: readonly (readonly [panel: string, note: string])[]): string[] {
  const panels = new Map<string, string[]>();
  for (const [panel, note] of notes) panels.set(note, [...(panels.get(note) ?? []), panel]);
  return [...panels].map(([note, names]) => `${names.join(", ")}: ${note}`);
}

interface PanelOptions {
  width: number;
  height: number;
  /** false: only the front, the pick and the reference get labels. */
  labelEveryone: boolean;
  title?: string;
}

interface Drawn extends TradeOff {
  role: ModelRole;
  /** Where it is drawn (clipped to the axes). */
  x: number;
  y: number;
  clipX: ClipSide | null;
  clipY: ClipSide | null;
}

function panel(report: Report, group: string, options: PanelOptions): { spec: PanelSpec; notes: string[] } {
  const points = tradeOffs(report, group);
  const xAxis = robustDomain(points.map((p) => p.harmChange), { minSpan: 10, limits: [-100, Infinity] });
  const yAxis = robustDomain(points.map((p) => p.winRate), { minSpan: 10, include: [50], limits: [0, 100] });
  const drawn: Drawn[] = points.map((p) => {
    const x = clampTo(xAxis.domain, p.harmChange);
    const y = clampTo(yAxis.domain, p.winRate);
    return { ...p, x: x.at, y: y.at, clipX: x.clipped, clipY: y.clipped };
  });
  const frontNames = frontOf(report, group, points);
  const front = frontNames.flatMap((name) => drawn.filter((d) => d.model === name)).sort((a, b) => a.harmChange - b.harmChange);
  const pick = report.recommendations?.[group]?.model ?? null;
  const reference = report.experiment.reference;

  const plot = { xAxis, yAxis, width: options.width, height: options.height };
  const { placed, unplaced, groups } = labels(drawn, front, { pick, reference, frontNames, labelEveryone: options.labelEveryone }, plot);
  const x = position("x", HARM_AXIS, xAxis);
  const y = position("y", WIN_AXIS, yAxis);
  const role = { field: "role", type: "nominal", title: "Role", scale: { domain: ROLE_PRIORITY } } as const;
  const layers: LayerChild[] = [
    ...(onAxis(yAxis, 50) && drawn.length > 0 ? [{ data: { values: [{ y: 50 }] }, mark: { type: "rule", color: "#aaa", strokeDash: [2, 3] }, encoding: { y } } satisfies LayerChild] : []),
    {
      data: { values: front },
      mark: { type: "line", color: "#555" },
      encoding: { x, y, order: { field: "harmChange" }, strokeDash: { datum: FRONT_LABEL, type: "nominal", title: null, scale: { range: [[6, 3]] }, legend: { labelLimit: 0 } } },
    },
    { data: { values: drawn.filter((d) => !d.clipX && !d.clipY) }, mark: { type: "point", filled: true, size: 70, opacity: 0.9 }, encoding: { x, y, color: role, shape: role } },
    { data: { values: drawn.filter((d) => d.model === pick) }, mark: { type: "point", filled: false, size: PICK_RING_SIZE, color: "#111", strokeWidth: 1.5 }, encoding: { x, y } },
    ...clipMarkers(drawn, x, y),
    ...(["left", "right", "center"] as const).map(
      (align): LayerChild => ({
        data: { values: placed.filter((l) => l.align === align).map((l) => ({ text: l.text, ...fromPixels(plot, l) })) },
        mark: { type: "text", align, baseline: "middle", fontSize: LABEL_FONT_SIZE, color: "#222" },
        encoding: { x, y, text: { field: "text", type: "nominal" } },
      }),
    ),
  ];
  if (drawn.length === 0) layers.push(emptyMark(xAxis, yAxis));
  const spec: PanelSpec = { ...(options.title ? { title: options.title } : {}), width: options.width, height: options.height, layer: layers };
  const empty = drawn.length === 0 ? [emptyNote(report, group)] : [];
  return { spec, notes: [...empty, ...clipNotes(drawn, xAxis, yAxis), ...sameSpotNotes(groups), ...unplacedNotes(unplaced)] };
}

interface Plot {
  xAxis: AxisDomain;
  yAxis: AxisDomain;
  width: number;
  height: number;
}

function toPixels(plot: Plot, d: { x: number; y: number }): { px: number; py: number } {
  const [x0, x1] = plot.xAxis.domain;
  const [y0, y1] = plot.yAxis.domain;
  return { px: ((d.x - x0) / (x1 - x0)) * plot.width, py: plot.height - ((d.y - y0) / (y1 - y0)) * plot.height };
}

function fromPixels(plot: Plot, p: { px: number; py: number }): { x: number; y: number } {
  const [x0, x1] = plot.xAxis.domain;
  const [y0, y1] = plot.yAxis.domain;
  return { x: x0 + (p.px / plot.width) * (x1 - x0), y: y0 + ((plot.height - p.py) / plot.height) * (y1 - y0) };
}

/**
 * The labels of one scatter: the reference, the pick and the front first (they get the free places), everyone else
 * too when `labelEveryone`; clipped points always (their label gives the number the axis cannot show). Points on
 * one spot share a label; labels keep off every point, the pick's ring and the front's line.
 */
function labels(
  drawn: readonly Drawn[],
  front: readonly Drawn[],
  who: { pick: string | null; reference: string | undefined; frontNames: readonly string[]; labelEveryone: boolean },
  plot: Plot,
): { placed: PlacedLabel[]; unplaced: LabelledPoint[]; groups: LabelledPoint[] } {
  const rank = (d: Drawn) => (d.model === who.reference ? 0 : d.model === who.pick ? 1 : who.frontNames.includes(d.model) ? 2 : 3);
  const reach = (d: Drawn) => (d.model === who.pick ? PICK_RING_RADIUS : undefined);
  const labelled = drawn.filter((d) => who.labelEveryone || rank(d) < 3 || d.clipX || d.clipY);
  const groups = groupSameSpot(
    labelled.map((d): LabelledPoint => ({ ...toPixels(plot, d), names: [labelName(d, who.pick)], priority: rank(d) + drawn.indexOf(d) / 1000, radius: reach(d) })),
  );
  const obstacles = [...drawn.map((d) => ({ ...toPixels(plot, d), radius: reach(d) })), ...alongLine(front.map((d) => toPixels(plot, d)))];
  return { ...placeLabels(groups, obstacles, plot), groups };
}

const NOTHING_TO_DRAW = "no model has both numbers";

/** An empty panel says so in its middle, so it does not read as a drawing that failed. */
function emptyMark(xAxis: AxisDomain, yAxis: AxisDomain): LayerChild {
  const middle = (axis: AxisDomain) => (axis.domain[0] + axis.domain[1]) / 2;
  return {
    data: { values: [{ x: middle(xAxis), y: middle(yAxis), text: NOTHING_TO_DRAW }] },
    mark: { type: "text", align: "center", baseline: "middle", fontSize: 12, color: "#666" },
    encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, text: { field: "text", type: "nominal" } },
  };
}

function emptyNote(report: Report, group: string): string {
  const reasons = new Set(Object.values(report.models).flatMap((m) => cellOf(m, group)?.harm_rel_change_undefined ?? []));
  return `${NOTHING_TO_DRAW}${reasons.size ? `: the harm change is undefined (${[...reasons].join("; ")})` : " (complete, with a harm change and a win rate)"}.`;
}

/** Models with both numbers in a complete cell: an incomplete cell would stand for prompts it never answered. */
function tradeOffs(report: Report, group: string): (TradeOff & { role: ModelRole })[] {
  return Object.entries(report.models).flatMap(([model, m]) => {
    const cell = cellOf(m, group);
    const harmChange = cell?.harm_rel_change_vs_base ?? null;
    const winRate = cell?.win_rate_vs_base ?? null;
    return harmChange === null || winRate === null || cell?.missing ? [] : [{ model, role: primaryRole(m), harmChange, winRate }];
  });
}

/** The report's front (merges and mixes) for the group; reports without recommendations get it worked out here. */
function frontOf(report: Report, group: string, points: readonly (TradeOff & { role: ModelRole })[]): string[] {
  const stated = report.recommendations?.[group]?.front;
  if (stated) return stated;
  return paretoFront(points.filter((p) => p.role === "merge" || report.models[p.model]!.roles.includes("baseline"))).map((p) => p.model);
}

function labelName(d: Drawn, pick: string | null): string {
  const clipped = d.clipX || d.clipY ? ` (${[d.clipX && `harm ${formatNumber(d.harmChange)}%`, d.clipY && `win ${formatNumber(d.winRate)}%`].filter(Boolean).join(", ")})` : "";
  return `${d.model}${d.model === pick ? " (pick)" : ""}${clipped}`;
}

function position(field: "x" | "y", title: string, axis: AxisDomain) {
  return { field, type: "quantitative", title, scale: { domain: axis.domain, nice: false, zero: false } } as const;
}

type Position = ReturnType<typeof position>;

const TRIANGLES = { "x-low": "triangle-left", "x-high": "triangle-right", "y-low": "triangle-down", "y-high": "triangle-up" } as const;

/** Clipped points drawn at the axis edge as a triangle pointing to where they really are. */
function clipMarkers(drawn: readonly Drawn[], x: Position, y: Position): LayerChild[] {
  return (Object.keys(TRIANGLES) as (keyof typeof TRIANGLES)[]).flatMap((side): LayerChild[] => {
    const values = drawn.filter((d) => (d.clipX ? `x-${d.clipX}` : d.clipY ? `y-${d.clipY}` : undefined) === side);
    if (values.length === 0) return [];
    return [{ data: { values }, mark: { type: "point", shape: TRIANGLES[side], filled: true, size: 110, color: CLIP_COLOUR }, encoding: { x, y } }];
  });
}

function clipNotes(drawn: readonly Drawn[], xAxis: AxisDomain, yAxis: AxisDomain): string[] {
  const notes: string[] = [];
  const xClipped = drawn.filter((d) => d.clipX);
  const yClipped = drawn.filter((d) => d.clipY);
  if (xClipped.length) notes.push(`harm-change axis clipped at ${edges(xAxis)}: ${xClipped.map((d) => `${d.model} (${formatNumber(d.harmChange)}%)`).join(", ")} drawn at the edge as ◀/▶.`);
  if (yClipped.length) notes.push(`win-rate axis clipped at ${edges(yAxis)}: ${yClipped.map((d) => `${d.model} (${formatNumber(d.winRate)}%)`).join(", ")} drawn at the edge as ▲/▼.`);
  return notes;
}

export function edges(axis: AxisDomain): string {
  return [axis.clippedLow && formatNumber(axis.domain[0]), axis.clippedHigh && formatNumber(axis.domain[1])].filter(Boolean).join(" and ");
}

/** A label that could not name everyone on its spot ("a, b +3 more"): the note does. */
function sameSpotNotes(groups: readonly LabelledPoint[]): string[] {
  return groups.filter((g) => labelText(g.names) !== g.names.join(", ")).map((g) => `on one spot: ${g.names.join(", ")}.`);
}

function unplacedNotes(unplaced: readonly LabelledPoint[]): string[] {
  return unplaced.length ? [`no room for a label: ${unplaced.flatMap((g) => g.names).join(", ")} (see the tables).`] : [];
}

export function primaryRole(model: ModelReport): ModelRole {
  return ROLE_PRIORITY.find((role) => model.roles.includes(role)) ?? "baseline";
}
