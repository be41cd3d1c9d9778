import type { Chart } from "./charts.ts";
import { notesBox, readingSection, recommendationsSection, regressionsSection, setupSection } from "./html-decision.ts";
import { escapeHtml } from "./html-escape.ts";
import { metricsSection, paperSection } from "./html-tables.ts";
import type { Report } from "./types.ts";

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; max-width: 1200px; margin: 2rem auto; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; } h3 { margin-bottom: .4rem; }
.meta { color: #555; margin: .2rem 0; }
section.decision h2 { margin-top: 1.2rem; }
.rule { margin: .4rem 0 .8rem; }
td.pick { font-weight: 700; white-space: nowrap; }
td.no-pick { color: #666; font-style: italic; white-space: nowrap; }
.regressions, .notes { border-radius: 6px; padding: .6rem 1.2rem; margin: 1.2rem 0; }
.regressions { border: 2px solid #b00020; background: #fdecee; }
.regressions.none { border-color: #2e7d32; background: #edf7ee; }
.notes { border: 2px solid #c77700; background: #fff6e5; }
.regressions h2, .notes h2 { border: none; margin: .3rem 0; font-size: 1.1rem; }
figure { margin: 1.5rem 0; } figcaption { font-weight: 600; margin-bottom: .4rem; }
svg { max-width: 100%; height: auto; }
.chart-notes { color: #444; font-size: .9em; margin: .3rem 0 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin-bottom: 1rem; font-variant-numeric: tabular-nums; font-size: .92em; }
th, td { padding: .25rem .5rem; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { text-align: left; background: #f4f4f6; font-weight: 600; }
thead th { font-size: .8em; vertical-align: bottom; }
td.roles { min-width: 8em; }
td.num { text-align: right; white-space: nowrap; }
td.diff { white-space: nowrap; font-size: .92em; }
td.sig-better { background: #e8f5e9; } td.sig-worse { background: #fdecee; }
.ci { display: block; color: #666; font-size: .82em; }
.qualifier { display: block; color: #444; font-size: .8em; } .qualifier.noise { color: #888; }
abbr.undefined { text-decoration: underline dotted; font-style: italic; }
.footnotes { color: #444; font-size: .9em; margin-top: -.5rem; }
td.incomplete { background: #fde8e8; }
.incomplete-note { color: #a40000; font-weight: 600; }
th.no-model { color: #666; font-style: italic; font-weight: 400; }
`;

/** report.html: the decision first, then the notes, the set-up, how to read the numbers, the charts and the tables. */
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
    `<h1>${escapeHtml(name)}</h1>`,
    recommendationsSection(report),
    regressionsSection(report),
    notesBox(report),
    setupSection(report),
    readingSection(report),
    chartsSection(charts),
    metricsSection(report),
    report.paper ? paperSection(report.paper) : "",
    "</body>",
    "</html>",
    "",
  ].filter(Boolean).join("\n");
}

function chartsSection(charts: Chart[]): string {
  if (charts.length === 0) return "";
  // The SVG is vega's output (it escapes the text it draws), so it goes in as markup.
  const figures = charts.map((chart) => {
    const notes = chart.notes.length ? `\n<ul class="chart-notes" role="note">${chart.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : "";
    return `<figure id="chart-${escapeHtml(chart.id)}">\n<figcaption>${escapeHtml(chart.title)}</figcaption>\n${chart.svg}${notes}\n</figure>`;
  });
  return `<h2 id="charts">Charts</h2>\n${figures.join("\n")}`;
}
