import type { ReportModel } from "./build.ts";
import { DEFAULT_PAPER_ROWS, PAPER_TABLES, type PaperRow } from "./paper-data.ts";
import type { PaperCell, PaperComparison, Report } from "./types.ts";

/**
 * Our overall numbers next to the paper's, row by row. A model stands for the paper row it names (`paper_row`),
 * else the mix of its safety share or the merge method it uses, when exactly one model does.
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

function matchRows(models: readonly ReportModel[], rows: readonly PaperRow[]): [string, PaperRow][] {
  const defaultRow = (m: ReportModel): string | undefined =>
    m.roles.includes("baseline") && m.safetyMix !== undefined ? DEFAULT_PAPER_ROWS.safetyMix[m.safetyMix] : m.method ? DEFAULT_PAPER_ROWS.method[m.method] : undefined;
  const claims = new Map<string, string[]>();
  for (const m of models) {
    const row = m.paperRow ?? defaultRow(m);
    if (row) claims.set(row, [...(claims.get(row) ?? []), m.name]);
  }
  const matched: [string, PaperRow][] = [];
  for (const row of rows) {
    const names = claims.get(row.row) ?? [];
    // Several merges of one method (a sweep) cannot all be "the" SLERP row unless one is named explicitly.
    const explicit = models.filter((m) => m.paperRow === row.row).map((m) => m.name);
    const chosen = explicit.length === 1 ? explicit[0] : names.length === 1 ? names[0] : undefined;
    if (chosen) matched.push([chosen, row]);
  }
  return matched;
}
