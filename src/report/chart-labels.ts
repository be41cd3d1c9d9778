/**
 * Text labels for a scatter, placed so no two overlap and none covers a point: vega draws text where it is told,
 * so the places are worked out here, in the plot's pixels. Points drawn on top of each other (several models with
 * the same numbers) share one label; a label with no free place is left out, and the caller names it in a note.
 */

export interface LabelledPoint {
  /** Position in the plot's pixels, y downwards. */
  px: number;
  py: number;
  names: string[];
  /** Lower first: the reference and the front get the free places before the rest. */
  priority: number;
  /** How far the drawn symbol reaches from its centre, pixels (a ringed point reaches further). */
  radius?: number;
}

/** Something drawn that a label must not cover: a point (or a dot sampled along a line), pixels. */
export interface Obstacle {
  px: number;
  py: number;
  radius?: number;
}

export interface PlacedLabel {
  text: string;
  /** The text's anchor in pixels (vertically its middle). */
  px: number;
  py: number;
  align: "left" | "right" | "center";
}

export const LABEL_FONT_SIZE = 10;
const POINT_RADIUS = 5;
/** Offsets from the point's edge tried in turn: beside it, diagonally, above and below, then a line further out. */
const CANDIDATES: [dx: number, dy: number, align: PlacedLabel["align"]][] = [
  [3, 0, "left"], [-3, 0, "right"], [2, -8, "left"], [2, 8, "left"], [-2, -8, "right"], [-2, 8, "right"],
  [0, -9, "center"], [0, 9, "center"], [4, -18, "left"], [4, 18, "left"], [-4, -18, "right"], [-4, 18, "right"],
  [0, -20, "center"], [0, 20, "center"],
];
/** Points closer than this (pixels) are one spot on the page: they share a label. */
const SAME_SPOT = 4;
const MAX_LABEL_CHARS = 30;

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Groups points drawn on the same spot, keeping each group's best priority and its names in order. */
export function groupSameSpot(points: readonly LabelledPoint[]): LabelledPoint[] {
  const groups: LabelledPoint[] = [];
  for (const point of [...points].sort((a, b) => a.priority - b.priority)) {
    const twin = groups.find((g) => Math.abs(g.px - point.px) < SAME_SPOT && Math.abs(g.py - point.py) < SAME_SPOT);
    if (twin) twin.names.push(...point.names);
    else groups.push({ ...point, names: [...point.names] });
  }
  return groups;
}

/** "a, b, c" or, when that is long, "a, b +3 more". */
export function labelText(names: readonly string[]): string {
  const all = names.join(", ");
  if (all.length <= MAX_LABEL_CHARS || names.length === 1) return all;
  for (let shown = names.length - 1; shown >= 1; shown--) {
    const text = `${names.slice(0, shown).join(", ")} +${names.length - shown} more`;
    if (text.length <= MAX_LABEL_CHARS || shown === 1) return text;
  }
  return all;
}

/**
 * Places one label per group, best priority first, at the first candidate offset that stays inside the plot and
 * overlaps neither a point nor a label already placed.
 */
export function placeLabels(
  groups: readonly LabelledPoint[],
  obstacles: readonly Obstacle[],
  size: { width: number; height: number },
): { placed: PlacedLabel[]; unplaced: LabelledPoint[] } {
  const taken: Box[] = obstacles.map(({ px, py, radius = POINT_RADIUS }) => ({ left: px - radius, right: px + radius, top: py - radius, bottom: py + radius }));
  const placed: PlacedLabel[] = [];
  const unplaced: LabelledPoint[] = [];
  for (const group of [...groups].sort((a, b) => a.priority - b.priority)) {
    const text = labelText(group.names);
    const width = textWidth(text);
    const reach = group.radius ?? POINT_RADIUS;
    const spot = CANDIDATES.map(([dx, dy, align]) => ({ px: group.px + dx + Math.sign(dx) * reach, py: group.py + dy + Math.sign(dy) * reach, align }))
      .map((anchor) => ({ anchor, box: boxOf(anchor, width) }))
      .find(({ box }) => inside(box, size) && !taken.some((t) => overlaps(t, box)));
    if (!spot) {
      unplaced.push(group);
      continue;
    }
    taken.push(spot.box);
    placed.push({ text, ...spot.anchor });
  }
  return { placed, unplaced };
}

function boxOf(anchor: { px: number; py: number; align: PlacedLabel["align"] }, width: number): Box {
  const left = anchor.align === "left" ? anchor.px : anchor.align === "right" ? anchor.px - width : anchor.px - width / 2;
  const half = (LABEL_FONT_SIZE + 2) / 2;
  return { left, right: left + width, top: anchor.py - half, bottom: anchor.py + half };
}

function inside(box: Box, size: { width: number; height: number }): boolean {
  return box.left >= 0 && box.right <= size.width && box.top >= 0 && box.bottom <= size.height;
}

function overlaps(a: Box, b: Box): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** Dots every few pixels along a polyline, so labels keep off the line as well as off its points. */
export function alongLine(points: readonly { px: number; py: number }[], every = 4): Obstacle[] {
  return points.slice(1).flatMap((end, i) => {
    const start = points[i]!;
    const steps = Math.max(1, Math.ceil(Math.hypot(end.px - start.px, end.py - start.py) / every));
    return Array.from({ length: steps }, (_, k) => ({ px: start.px + ((end.px - start.px) * k) / steps, py: start.py + ((end.py - start.py) * k) / steps, radius: 1.5 }));
  });
}

/** A generous estimate of the text's width in a 10 px sans-serif face (wider is safe: it only costs room). */
export function textWidth(text: string): number {
  let em = 0;
  for (const c of text) em += /[iljtfr.,:;'|! ()[\]]/.test(c) ? 0.34 : /[A-Zmw@%]/.test(c) ? 0.85 : 0.6;
  return Math.ceil(em * LABEL_FONT_SIZE) + 2;
}
