import { languageName } from "../datasets/index.ts";
import type { Ci, DeltaCell, MetricsCell, Report } from "./types.ts";

/** report.md: the paper's Table 1 layout, once over all languages and once per language, then the paper's numbers. */
export function renderMarkdown(report: Report): string {
  const { experiment } = report;
  const lines: string[] = [`# ${experiment.name}: mix data or merge models?`, ""];
  if (experiment.description) lines.push(experiment.description, "");
  lines.push(...report.notes.map((n) => `> ${n}`), "");
  lines.push(
    `Base model: **${escape(experiment.base)}**${experiment.reference ? `; reference data mix: **${escape(experiment.reference)}**` : ""}. ` +
      `Harm judge: ${report.judges.harm.name}; preference judge: ${report.judges.preference.name}. ` +
      `Generation: max ${report.generation.max_tokens} tokens, temperature ${report.generation.temperature}` +
      `${report.generation.limit_per_language ? `, first ${report.generation.limit_per_language} prompts per language` : ""}.`,
    "",
  );
  lines.push(...table(report, "overall", "All languages"));
  for (const language of experiment.languages) lines.push(...table(report, language, `${languageName(language) ?? language} (${language})`));
  if (report.paper) lines.push(...paperTable(report));
  return lines.join("\n");
}

function table(report: Report, language: string, title: string): string[] {
  const rows = [
    `## ${title}`,
    "",
    "| Model | Role | Harm change vs base (%) | 95% CI | Win rate vs base (%) | 95% CI | Harmful (%) | n red-team / general | Unparsable | In language (%) |",
    "|---|---|---:|---|---:|---|---:|---:|---:|---:|",
  ];
  for (const [name, model] of Object.entries(report.models)) {
    const cell: MetricsCell | undefined = language === "overall" ? model.overall : model.languages[language];
    if (!cell) continue;
    const delta = model.deltas_vs_reference?.[language];
    rows.push(
      `| ${escape(name)} | ${model.roles.join(", ")}${model.safety_mix !== undefined ? ` (${model.safety_mix}% safety)` : ""} ` +
        `| ${num(cell.harm_rel_change_vs_base)}${bracket(delta, "harm")} | ${range(cell.harm_rel_change_vs_base_ci)} ` +
        `| ${num(cell.win_rate_vs_base)}${bracket(delta, "win")} | ${range(cell.win_rate_vs_base_ci)} ` +
        `| ${num(cell.harmful_rate)} | ${cell.n_redteam} / ${cell.n_general}${incompleteMark(cell)} | ${cell.unparsable} | ${num(cell.in_language_rate)} |`,
    );
  }
  return [...rows, ""];
}

/** " **incomplete** (3 / 0 missing)": a cell the run could not finish. */
export function incompleteMark(cell: MetricsCell): string {
  return cell.missing ? ` **incomplete** (${cell.missing.redteam} / ${cell.missing.general} missing)` : "";
}

/** "(+3.1)" as in the paper's brackets, "(+3.1, within noise)" when the interval contains 0. */
function bracket(delta: DeltaCell | undefined, which: "harm" | "win"): string {
  const v = which === "harm" ? delta?.harm_reduction_pts : delta?.win_rate_pts;
  if (v === undefined || v === null) return "";
  const noise = which === "harm" ? delta?.harm_within_noise : delta?.win_within_noise;
  return ` (${signed(v)}${noise ? ", within noise" : ""})`;
}

function paperTable(report: Report): string[] {
  const paper = report.paper!;
  return [
    `## Paper comparison: ${paper.title}`,
    "",
    `Source: ${paper.source}. The paper gives no intervals; harm deltas are points of extra harm reduction vs the 15% mix.`,
    "",
    "| Model | Paper row | Metric | Paper | Ours | Ours − paper |",
    "|---|---|---|---:|---:|---:|",
    ...paper.cells.map((c) => `| ${escape(c.model)} | ${escape(c.paper_row)} | ${c.metric} | ${num(c.paper)} | ${num(c.ours)} | ${c.difference === null ? "—" : signed(c.difference)} |`),
    "",
  ];
}

export function num(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : v.toFixed(1);
}

function signed(v: number): string {
  return `${v >= 0 ? "+" : ""}${v.toFixed(1)}`;
}

function range(ci: Ci | null): string {
  return ci ? `[${ci[0].toFixed(1)}, ${ci[1].toFixed(1)}]` : "—";
}

function escape(text: string): string {
  return text.replace(/[|\\`*_<>]/g, (c) => `\\${c}`);
}
