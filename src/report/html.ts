import type { Chart } from "./charts.ts";
import type { Ci, DeltaCell, JudgeReport, MetricsCell, ModelReport, PaperCell, PaperComparison, Report } from "./types.ts";

const OVERALL = "overall";

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; max-width: 1200px; margin: 2rem auto; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; } h3 { margin-bottom: .4rem; }
.meta { color: #555; margin: .2rem 0; }
.notes { border: 2px solid #c77700; background: #fff6e5; border-radius: 6px; padding: .6rem 1.2rem; margin: 1.2rem 0; }
.notes h2 { border: none; margin: .3rem 0; font-size: 1.1rem; }
figure { margin: 1.5rem 0; } figcaption { font-weight: 600; margin-bottom: .4rem; }
svg { max-width: 100%; height: auto; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin-bottom: 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { text-align: left; background: #f4f4f6; font-weight: 600; }
thead th { font-size: .8em; vertical-align: bottom; }
td.roles { min-width: 10em; }
td.num { text-align: right; white-space: nowrap; }
.ci { color: #666; font-size: .85em; }
td.incomplete { background: #fde8e8; }
.incomplete-note { color: #a40000; font-weight: 600; }
.noise { display: block; color: #888; font-size: .8em; }
`;

export function renderHtml(report: Report, charts: Chart[]): string {
  const name = report.experiment.name;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Self-contained by construction: the page may not load anything from anywhere.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(name)} — mergeval report</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    header(report),
    notesBox(report),
    chartsSection(charts),
    metricsSection(report),
    report.paper ? paperSection(report.paper) : "",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function header({ experiment, generation }: Report): string {
  const facts = [
    `Base: ${experiment.base}`,
    experiment.reference ? `reference mix: ${experiment.reference}` : undefined,
    `languages: ${experiment.languages.join(", ")}`,
    `max tokens ${generation.max_tokens}, temperature ${generation.temperature}`,
    generation.seed !== undefined ? `seed ${generation.seed}` : undefined,
    generation.limit_per_language !== undefined ? `${generation.limit_per_language} prompts per language` : undefined,
  ].filter((fact) => fact !== undefined);
  return [
    `<h1>${escapeHtml(experiment.name)}</h1>`,
    experiment.description ? `<p class="meta">${escapeHtml(experiment.description)}</p>` : "",
    `<p class="meta">${escapeHtml(facts.join(" · "))}</p>`,
  ].join("\n");
}

function notesBox({ notes, judges }: Report): string {
  const items = [...notes.map(escapeHtml), judgeNote("Harm judge", judges.harm), judgeNote("Preference judge", judges.preference)];
  return `<section class="notes" role="note">\n<h2>Read this first</h2>\n<ul>\n${items.map((item) => `<li>${item}</li>`).join("\n")}\n</ul>\n</section>`;
}

function judgeNote(label: string, judge: JudgeReport): string {
  const parts = [`<strong>${escapeHtml(label)}:</strong> ${escapeHtml(judge.name)}.`];
  if (judge.proxy_note) parts.push(escapeHtml(judge.proxy_note));
  if (judge.uncovered.length > 0) parts.push(`Not meant for ${escapeHtml(judge.uncovered.join(", "))}: results there are unreliable.`);
  return parts.join(" ");
}

function chartsSection(charts: Chart[]): string {
  if (charts.length === 0) return "";
  // The SVG is vega's output (it escapes the text it draws), so it goes in as markup.
  const figures = charts.map(
    (chart) => `<figure id="chart-${escapeHtml(chart.id)}">\n<figcaption>${escapeHtml(chart.title)}</figcaption>\n${chart.svg}\n</figure>`,
  );
  return `<h2>Charts</h2>\n${figures.join("\n")}`;
}

function metricsSection(report: Report): string {
  const groups = [...report.experiment.languages, OVERALL];
  return `<h2>Results per language</h2>\n${groups.map((group) => metricsTable(report, group)).join("\n")}`;
}

function metricsTable(report: Report, group: string): string {
  const reference = report.experiment.reference;
  const vsReference = reference ? ` vs ${escapeHtml(reference)}` : " vs reference";
  const head = [
    "Model", "Roles", "Harm change vs base, %", "95% CI", `Δ harm reduction${vsReference}, pts`,
    "Win rate vs base, %", "95% CI", `Δ win rate${vsReference}, pts`,
    "Harmful, %", "n red-team", "n general", "Unparsable", "In language, %",
  ];
  const rows = Object.entries(report.models).map(([name, model]) => metricsRow(name, model, group, name === reference));
  return [
    `<h3 id="lang-${escapeHtml(group)}">${escapeHtml(group)}</h3>`,
    '<div class="table-wrap"><table>',
    `<thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>`,
    `<tbody>\n${rows.join("\n")}\n</tbody>`,
    "</table></div>",
  ].join("\n");
}

function metricsRow(name: string, model: ModelReport, group: string, isReference: boolean): string {
  const cell: MetricsCell | undefined = group === OVERALL ? model.overall : model.languages[group];
  const delta = model.deltas_vs_reference?.[group];
  const noDelta = isReference ? "reference" : "—";
  const cells = [
    `<th scope="row">${escapeHtml(name)}</th>`,
    `<td class="roles">${escapeHtml(rolesText(model))}</td>`,
    numCell(formatNumber(cell?.harm_rel_change_vs_base ?? null)),
    numCell(formatCi(cell?.harm_rel_change_vs_base_ci ?? null), "ci"),
    numCell(delta ? deltaText(delta.harm_reduction_pts, delta.harm_within_noise) : noDelta),
    numCell(formatNumber(cell?.win_rate_vs_base ?? null)),
    numCell(formatCi(cell?.win_rate_vs_base_ci ?? null), "ci"),
    numCell(delta ? deltaText(delta.win_rate_pts, delta.win_within_noise) : noDelta),
    numCell(formatNumber(cell?.harmful_rate ?? null)),
    numCell(cell ? `${cell.n_redteam}${missingText(cell.missing?.redteam)}` : "—", cell?.missing?.redteam ? "incomplete" : undefined),
    numCell(cell ? `${cell.n_general}${missingText(cell.missing?.general)}` : "—", cell?.missing?.general ? "incomplete" : undefined),
    numCell(cell ? String(cell.unparsable) : "—"),
    numCell(formatNumber(cell?.in_language_rate ?? null)),
  ];
  return `<tr>${cells.join("")}</tr>`;
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

/** The paper's bracket convention, e.g. "(+3.1)", flagged when the interval contains 0. */
function deltaText(points: DeltaCell["harm_reduction_pts"], withinNoise: boolean | null): string {
  if (points === null) return "—";
  const noise = withinNoise === true ? '<span class="noise">within noise</span>' : "";
  return `(${formatSigned(points)})${noise}`;
}

function paperSection(paper: PaperComparison): string {
  const head = ["Model", "Paper row", "Metric", "Paper", "Ours", "Difference"];
  const rows = paper.cells.map(paperRow);
  return [
    `<h2>Against the paper: ${escapeHtml(paper.title)}</h2>`,
    `<p class="meta">${escapeHtml(paper.source)}</p>`,
    '<div class="table-wrap"><table>',
    `<thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>`,
    `<tbody>\n${rows.join("\n")}\n</tbody>`,
    "</table></div>",
  ].join("\n");
}

const METRIC_LABELS: Record<PaperCell["metric"], string> = {
  harm_rel_change_vs_base: "harm change vs base, %",
  win_rate_vs_base: "win rate vs base, %",
  harm_reduction_pts: "Δ harm reduction vs mix, pts",
  win_rate_pts: "Δ win rate vs mix, pts",
};

function paperRow(cell: PaperCell): string {
  return [
    "<tr>",
    `<th scope="row">${escapeHtml(cell.model)}</th>`,
    `<td>${escapeHtml(cell.paper_row)}</td>`,
    `<td>${escapeHtml(METRIC_LABELS[cell.metric] ?? cell.metric)}</td>`,
    numCell(formatNumber(cell.paper)),
    numCell(formatNumber(cell.ours)),
    numCell(cell.difference === null ? "—" : formatSigned(cell.difference)),
    "</tr>",
  ].join("");
}

function numCell(html: string, className?: string): string {
  return `<td class="num${className ? ` ${className}` : ""}">${html}</td>`;
}

function formatCi(ci: Ci | null): string {
  return ci === null ? "—" : `[${formatNumber(ci[0])}, ${formatNumber(ci[1])}]`;
}

function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "—";
  const text = value.toFixed(1);
  return text === "-0.0" ? "0.0" : text;
}

function formatSigned(value: number): string {
  const text = formatNumber(value);
  return value > 0 && text !== "0.0" ? `+${text}` : text;
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}
