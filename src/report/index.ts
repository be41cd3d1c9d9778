import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderCharts } from "./charts.ts";
import { renderCsv } from "./csv.ts";
import { renderHtml } from "./html.ts";
import { renderMarkdown } from "./markdown.ts";
import type { Report } from "./types.ts";

export { buildReport, type ReportInputs, type ReportModel } from "./build.ts";
export { paperTableIds } from "./paper-data.ts";
export type { Report } from "./types.ts";

export const REPORT_FILES = ["report.json", "report.csv", "report.md", "report.html"] as const;

/** The report in every format, rendered in memory: the same report gives the same bytes. */
export async function renderReport(report: Report): Promise<Record<(typeof REPORT_FILES)[number], string>> {
  return (await renderReportFiles(report)).report;
}

/** The four report files, and each chart as a standalone SVG (`charts/<id>.svg`, for READMEs and slides). */
async function renderReportFiles(report: Report): Promise<{ report: Record<(typeof REPORT_FILES)[number], string>; charts: Record<string, string> }> {
  const charts = await renderCharts(report);
  return {
    report: {
      "report.json": `${JSON.stringify(report, null, 2)}\n`,
      "report.csv": renderCsv(report),
      "report.md": renderMarkdown(report),
      "report.html": renderHtml(report, charts),
    },
    charts: Object.fromEntries(charts.map((c) => [join("charts", `${c.id}.svg`), `${c.svg}\n`])),
  };
}

/**
 * Writes report.{json,csv,md,html} and charts/*.svg into each folder; each file appears whole (written aside, then
 * renamed). Returns the report files written.
 */
export async function writeReport(report: Report, dirs: readonly string[]): Promise<string[]> {
  const files = await renderReportFiles(report);
  const written: string[] = [];
  for (const dir of dirs) {
    await mkdir(join(dir, "charts"), { recursive: true });
    for (const [name, text] of [...Object.entries(files.report), ...Object.entries(files.charts)]) {
      const target = join(dir, name);
      await writeFile(`${target}.tmp`, text);
      await rename(`${target}.tmp`, target);
      if (!name.startsWith("charts")) written.push(target);
    }
  }
  return written;
}
