import { stringify } from "csv-stringify/sync";
import type { MetricsCell, Report } from "./types.ts";

const METRICS = ["harmful_rate", "harm_rel_change_vs_base", "win_rate_vs_base"] as const;

/** report.csv: one row per model and language (plus "overall"), long enough to pivot in a spreadsheet. */
export function renderCsv(report: Report): string {
  const header = [
    "model", "roles", "safety_mix", "method", "sweep", "language",
    ...METRICS.flatMap((m) => [m, `${m}_ci_low`, `${m}_ci_high`]),
    "harm_reduction_pts_vs_reference", "harm_reduction_pts_ci_low", "harm_reduction_pts_ci_high", "harm_within_noise",
    "win_rate_pts_vs_reference", "win_rate_pts_ci_low", "win_rate_pts_ci_high", "win_within_noise",
    "n_redteam", "n_general", "unparsable", "in_language_rate", "order_consistency", "missing_redteam", "missing_general",
    // Schema version 2, appended so version-1 readers keep their column positions.
    "mde_harm_pts", "mde_win_pts", "harm_p", "harm_significant", "win_p", "win_significant", "harm_rel_change_undefined",
  ];
  const rows: (string | number | boolean | null)[][] = [];
  for (const [name, model] of Object.entries(report.models)) {
    const cells: [string, MetricsCell][] = [...Object.entries(model.languages), ["overall", model.overall]];
    for (const [language, cell] of cells) {
      const d = model.deltas_vs_reference?.[language];
      rows.push([
        name, model.roles.join(" "), model.safety_mix ?? null, model.method ?? null,
        model.sweep ? Object.entries(model.sweep).map(([k, v]) => `${k}=${v}`).join(" ") : null, language,
        ...METRICS.flatMap((m) => [cell[m], cell[`${m}_ci`]?.[0] ?? null, cell[`${m}_ci`]?.[1] ?? null]),
        d?.harm_reduction_pts ?? null, d?.harm_reduction_pts_ci?.[0] ?? null, d?.harm_reduction_pts_ci?.[1] ?? null, d?.harm_within_noise ?? null,
        d?.win_rate_pts ?? null, d?.win_rate_pts_ci?.[0] ?? null, d?.win_rate_pts_ci?.[1] ?? null, d?.win_within_noise ?? null,
        cell.n_redteam, cell.n_general, cell.unparsable, cell.in_language_rate, cell.order_consistency,
        cell.missing?.redteam ?? 0, cell.missing?.general ?? 0,
        cell.mde_pts?.harm ?? null, cell.mde_pts?.win ?? null,
        d?.harm_p ?? null, d?.harm_significant ?? null, d?.win_p ?? null, d?.win_significant ?? null,
        cell.harm_rel_change_undefined ?? null,
      ]);
    }
  }
  return stringify([header, ...rows], { cast: { boolean: (b) => String(b) } });
}
