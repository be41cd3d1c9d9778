import { escapeHtml, idOf, numCell, tableHtml } from "./html-escape.ts";
import { PAPER_METRICS, paperGapText, paperGaps, paperLines } from "./paper.ts";
import type { MetricsCell, ModelReport, PaperCell, PaperComparison, Report } from "./types.ts";
import {
  cellOf, detectableSentence, detectableText, formatCi, formatNumber, formatSigned, Footnotes, groupName, harmDifference, OVERALL,
  undefinedReason, winDifference, type DifferenceWords,
} from "./wording.ts";

/** The results of report.html: one table per language and overall, then the paper's numbers beside ours. */

export function metricsSection(report: Report): string {
  const groups = [...report.experiment.languages, OVERALL];
  return `<h2 id="results">Results per language</h2>\n${groups.map((group) => metricsTable(report, group)).join("\n")}`;
}

function metricsTable(report: Report, group: string): string {
  const reference = report.experiment.reference;
  const vs = escapeHtml(reference ? `vs ${reference}` : "vs reference");
  const head = [
    "Model", "Roles", "Harm change vs base, % [95% CI]", `Harm ${vs}`, "Win rate vs base, % [95% CI]", `Win rate ${vs}`,
    "Harmful, %", "n red-team · detectable Δ harmful rate", "n general · detectable Δ win rate", "Unparsable", "In language, %",
  ];
  const footnotes = new Footnotes();
  const referenceModel = reference ? report.models[reference] : undefined;
  const referenceCell = referenceModel && cellOf(referenceModel, group);
  const rows = Object.entries(report.models).map(([name, model]) => metricsRow(name, model, group, name === reference, referenceCell, footnotes, idOf(group)));
  const notes = footnotes.reasons.map((reason, i) => `<li id="undefined-${idOf(group)}-${i + 1}">Harm change undefined: ${escapeHtml(reason)}</li>`);
  return [
    `<h3 id="lang-${escapeHtml(idOf(group))}">${escapeHtml(groupName(group))}</h3>`,
    tableHtml(head, rows),
    notes.length ? `<ol class="footnotes" role="note">\n${notes.join("\n")}\n</ol>` : "",
  ].filter(Boolean).join("\n");
}

function metricsRow(name: string, model: ModelReport, group: string, isReference: boolean, referenceCell: MetricsCell | undefined, footnotes: Footnotes, groupId: string): string {
  const cell = cellOf(model, group);
  const delta = model.deltas_vs_reference?.[group];
  const noDelta = isReference ? "reference" : "—";
  const undefinedMark = (reason: string) => {
    const n = footnotes.mark(reason);
    return `<abbr class="undefined" title="${escapeHtml(reason)}">undefined</abbr><sup><a href="#undefined-${groupId}-${n}">${n}</a></sup>`;
  };
  const undefinedHere = undefinedReason(cell);
  const deltaUndefined = undefinedHere ?? undefinedReason(referenceCell);
  const harmChange = undefinedHere ? undefinedMark(undefinedHere) : withCi(cell?.harm_rel_change_vs_base, cell?.harm_rel_change_vs_base_ci);
  const cells = [
    `<th scope="row">${escapeHtml(name)}</th>`,
    `<td class="roles">${escapeHtml(rolesText(model))}</td>`,
    numCell(harmChange),
    delta ? differenceCell(harmDifference(delta), deltaUndefined ? undefinedMark(deltaUndefined) : undefined) : numCell(noDelta),
    numCell(withCi(cell?.win_rate_vs_base, cell?.win_rate_vs_base_ci)),
    delta ? differenceCell(winDifference(delta)) : numCell(noDelta),
    numCell(formatNumber(cell?.harmful_rate)),
    countCell(cell, "redteam"),
    countCell(cell, "general"),
    numCell(cell ? String(cell.unparsable) : "—"),
    numCell(formatNumber(cell?.in_language_rate)),
  ];
  return `<tr>${cells.join("")}</tr>`;
}

/** "200" with the smallest difference it could detect under it ("±13.7 pts"), and what is missing when the cell is incomplete. */
function countCell(cell: MetricsCell | undefined, kind: "redteam" | "general"): string {
  if (!cell) return numCell("—");
  const n = kind === "redteam" ? cell.n_redteam : cell.n_general;
  const detectable = kind === "redteam" ? cell.mde_pts?.harm : cell.mde_pts?.win;
  const missing = cell.missing?.[kind];
  const under = detectable === null || detectable === undefined ? "" : `<span class="ci">${detectableText(detectable)} pts</span>`;
  return numCell(`${n}${missingText(missing)}${under}`, missing ? "incomplete" : undefined, detectableSentence(detectable, n));
}

function withCi(value: number | null | undefined, ci: [number, number] | null | undefined): string {
  return `${formatNumber(value)}${ci ? `<span class="ci">${formatCi(ci)}</span>` : ""}`;
}

/** "+4.2 pts less harm", its interval, and "within noise" / "significant after Holm" under it; significant ones coloured by direction. */
function differenceCell(words: DifferenceWords | null, ifNull?: string): string {
  if (!words) return numCell(ifNull ?? "—");
  const direction = words.text.startsWith("+") ? "better" : words.text.startsWith("−") ? "worse" : "";
  const significant = words.qualifier === "significant after Holm" && direction ? `sig-${direction}` : "";
  const qualifier = words.qualifier ? `<span class="qualifier${words.qualifier === "within noise" ? " noise" : ""}">${words.qualifier}</span>` : "";
  return `<td class="diff${significant ? ` ${significant}` : ""}">${escapeHtml(words.text)}${words.ci ? `<span class="ci">${words.ci}</span>` : ""}${qualifier}</td>`;
}

/** " (incomplete: 3 missing)" beside a count the run could not finish. */
function missingText(missing: number | undefined): string {
  return missing ? ` <span class="incomplete-note">(incomplete: ${missing} missing)</span>` : "";
}

function rolesText(model: ModelReport): string {
  const details = [
    model.safety_mix !== undefined ? `${model.safety_mix}% safety data` : undefined,
    model.method,
    model.sweep ? Object.entries(model.sweep).map(([k, v]) => `${k}=${v}`).join(", ") : undefined,
  ].filter((detail) => detail !== undefined && detail !== "");
  return details.length > 0 ? `${model.roles.join(", ")} (${details.join("; ")})` : model.roles.join(", ");
}

const METRIC_HEADS: Record<PaperCell["metric"], string> = {
  harm_rel_change_vs_base: "Harm change vs base, %",
  win_rate_vs_base: "Win rate vs base, %",
  harm_reduction_pts: "Δ harm reduction vs 15% mix, pts",
  win_rate_pts: "Δ win rate vs 15% mix, pts",
};

/**
 * Every row of the paper's table: a line per model standing for it (the row's name spans its candidates), or the
 * paper's numbers alone when none does. Each number: ours, then the paper's and ours − paper under it.
 */
export function paperSection(paper: PaperComparison): string {
  const head = ["Paper row", "Model", ...PAPER_METRICS.map((m) => `${METRIC_HEADS[m]}<span class="ci">ours, then paper · ours − paper</span>`)];
  const lines = paperLines(paper);
  const rows = lines.map((line, i) => {
    const first = i === 0 || lines[i - 1]!.row !== line.row;
    const span = Math.max(line.candidates, 1);
    const rowHead = first ? `<th scope="row"${span > 1 ? ` rowspan="${span}"` : ""}>${escapeHtml(line.row)}${span > 1 ? `<span class="ci">${span} candidates</span>` : ""}</th>` : "";
    const model = line.model === null ? '<td class="no-model">no model</td>' : `<td class="model">${escapeHtml(line.model)}</td>`;
    const numbers = PAPER_METRICS.map((metric) => {
      const cell = line.metrics[metric];
      if (!cell) return numCell("");
      const difference = cell.difference === null ? "—" : formatSigned(cell.difference);
      return numCell(`${formatNumber(cell.ours)}<span class="ci">paper ${formatNumber(cell.paper)} · ${difference}</span>`);
    });
    return `<tr>${rowHead}${model}${numbers.join("")}</tr>`;
  });
  const gaps = paperGaps(paper).map((gap) => `<li>${paperGapText(gap, escapeHtml, (c) => `<code>${escapeHtml(c)}</code>`)}</li>`);
  return [
    `<h2 id="paper">Against the paper: ${escapeHtml(paper.title)}</h2>`,
    `<p class="meta">${escapeHtml(paper.source)}. The paper gives no intervals; Δ harm reduction is points of extra harm reduction vs the 15% mix.</p>`,
    tableHtml(head, rows),
    gaps.length ? `<ul class="paper-gaps" role="note">\n${gaps.join("\n")}\n</ul>` : "",
  ].filter(Boolean).join("\n");
}
