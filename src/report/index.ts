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
  return {
    "report.json": `${JSON.stringify(report, null, 2)}\n`,
    "report.csv": renderCsv(report),
    "report.md": renderMarkdown(report),
    "report.html": renderHtml(report, await renderCharts(report)),
  };
}

/** Writes report.{json,csv,md,html} into each folder; each file appears whole (written aside, then renamed). */
export async function writeReport(report: Report, dirs: readonly string[]): Promise<string[]> {
  const files = await renderReport(report);
  const written: string[] = [];
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      const target = join(dir, name);
      await writeFile(`${target}.tmp`, text);
      await rename(`${target}.tmp`, target);
      written.push(target);
    }
  }
  return written;
}
