import type { ReportModel } from "./build.ts";
import { DEFAULT_PAPER_ROWS, PAPER_TABLES, type PaperRow } from "./paper-data.ts";
import type { PaperCell, PaperComparison, Report } from "./types.ts";

/**
 * Our overall numbers next to the paper's, row by row. A model stands for the paper row it names (`paper_row`),
 * else the mix of its safety share or the merge method it uses. When several models stand for one row (a sweep of
 * one method) and none names it, every one of them is compared, each in its own cells: the renderings say that
 * `paper_row:` picks one.
 */
export function comparePaper(tableId: string, models: readonly ReportModel[], report: Pick<Report, "models">): PaperComparison {
  const table = PAPER_TABLES.find((t) => t.id === tableId);
  if (!table) throw new Error(`unknown paper table ${tableId}`);
  const cells: PaperCell[] = [];
  for (const [model, row] of matchRows(models.filter((m) => m.name in report.models), table.rows)) {
    const ours = report.models[model]!;
    const delta = ours.deltas_vs_reference?.overall;
    const pairs: [PaperCell["metric"], number | undefined, number | null | undefined][] = [
      ["harm_rel_change_vs_base", row.harm, ours.overall.harm_rel_change_vs_base],
      ["win_rate_vs_base", row.win, ours.overall.win_rate_vs_base],
      ["harm_reduction_pts", row.harmReductionPts, delta?.harm_reduction_pts],
      ["win_rate_pts", row.winRatePts, delta?.win_rate_pts],
    ];
    for (const [metric, paper, mine] of pairs) {
      if (paper === undefined) continue;
      const value = mine ?? null;
      cells.push({ model, paper_row: row.row, metric, paper, ours: value, difference: value === null ? null : Math.round((value - paper) * 1e4) / 1e4 });
    }
  }
  return { id: table.id, title: table.title, source: "Aakanksha et al., Mix Data or Merge Models? (arXiv 2410.10801)", cells };
}

/** Every (model, row) pair, in the table's row order: the models naming the row if any do, else every default claimant. */
function matchRows(models: readonly ReportModel[], rows: readonly PaperRow[]): [string, PaperRow][] {
  const defaultRow = (m: ReportModel): string | undefined =>
    m.roles.includes("baseline") && m.safetyMix !== undefined ? DEFAULT_PAPER_ROWS.safetyMix[m.safetyMix] : m.method ? DEFAULT_PAPER_ROWS.method[m.method] : undefined;
  return rows.flatMap((row) => {
    const explicit = models.filter((m) => m.paperRow === row.row);
    const candidates = explicit.length > 0 ? explicit : models.filter((m) => m.paperRow === undefined && defaultRow(m) === row.row);
    return candidates.map((m): [string, PaperRow] => [m.name, row]);
  });
}

export const PAPER_METRICS: readonly PaperCell["metric"][] = ["harm_rel_change_vs_base", "win_rate_vs_base", "harm_reduction_pts", "win_rate_pts"];

/** One line of the comparison as the renderings show it: a paper row and one model standing for it (or none: `model` null). */
export interface PaperLine {
  row: string;
  model: string | null;
  /** How many models stand for the row (each has its own line). */
  candidates: number;
  /** By metric: the paper's number, ours and the difference (absent where the paper prints none). */
  metrics: Partial<Record<PaperCell["metric"], Pick<PaperCell, "paper" | "ours" | "difference">>>;
}

/**
 * Every row of the comparison's table in its order (an unknown table: the rows its cells name), one line per model
 * standing for it, or one line with the paper's numbers alone when none does: no row is left out.
 */
export function paperLines(paper: PaperComparison): PaperLine[] {
  const table = PAPER_TABLES.find((t) => t.id === paper.id);
  const rows = table ? table.rows.map((r) => r.row) : [...new Set(paper.cells.map((c) => c.paper_row))];
  return rows.flatMap((row): PaperLine[] => {
    const cells = paper.cells.filter((c) => c.paper_row === row);
    const models = [...new Set(cells.map((c) => c.model))];
    if (models.length === 0) {
      const printed = table?.rows.find((r) => r.row === row);
      const values: [PaperCell["metric"], number | undefined][] = printed
        ? [["harm_rel_change_vs_base", printed.harm], ["win_rate_vs_base", printed.win], ["harm_reduction_pts", printed.harmReductionPts], ["win_rate_pts", printed.winRatePts]]
        : [];
      const metrics: PaperLine["metrics"] = Object.fromEntries(values.flatMap(([metric, value]) => (value === undefined ? [] : [[metric, { paper: value, ours: null, difference: null }]])));
      return [{ row, model: null, candidates: 0, metrics }];
    }
    return models.map((model) => ({
      row,
      model,
      candidates: models.length,
      metrics: Object.fromEntries(cells.filter((c) => c.model === model).map((c) => [c.metric, { paper: c.paper, ours: c.ours, difference: c.difference }])),
    }));
  });
}

/** A row without exactly one model: none stands for it (paper numbers only), or several do and `paper_row:` picks one. */
export interface PaperGap {
  row: string;
  candidates: string[];
}

export function paperGaps(paper: PaperComparison): PaperGap[] {
  const lines = paperLines(paper).filter((line) => line.candidates !== 1);
  return [...new Set(lines.map((line) => line.row))].map((row) => ({ row, candidates: lines.flatMap((line) => (line.row === row && line.model !== null ? [line.model] : [])) }));
}

/** The gap in words, with `code` the format's way of quoting `paper_row: <row>` and `text` its escaping of names. */
export function paperGapText(gap: PaperGap, text: (s: string) => string, code: (s: string) => string): string {
  const pick = code(`paper_row: ${gap.row}`);
  if (gap.candidates.length === 0) return `${text(gap.row)}: no model of this experiment stands for this row (paper numbers only); ${pick} on a model compares it.`;
  return `${text(gap.row)}: ${gap.candidates.length} candidates (${gap.candidates.map(text).join(", ")}), each shown; ${pick} on one of them picks it.`;
}
