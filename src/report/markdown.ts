import { PAPER_METRICS, paperGapText, paperGaps, paperLines } from "./paper.ts";
import type { MetricsCell, ModelReport, Report } from "./types.ts";
import {
  cellOf, decisionGroups, detectableText, differenceSentence, formatCi, formatNumber, formatSigned, Footnotes, groupName,
  judgeText, levelText, sentence, OVERALL, regressionSentence, undefinedReason, harmDifference, winDifference, type DifferenceWords,
} from "./wording.ts";

/**
 * report.md: the decision first (recommendations, regressions), then the notes, how the numbers were computed,
 * and the paper's Table 1 layout once over all languages and once per language, then the paper's numbers.
 */
export function renderMarkdown(report: Report): string {
  const { experiment } = report;
  const lines: string[] = [`# ${experiment.name}: mix data or merge models?`, ""];
  lines.push(...recommendations(report), ...regressions(report));
  lines.push("## Read this first", "", ...report.notes.map((n) => `> ${n}`), "");
  lines.push(...setup(report), ...howToRead(report), ...charts());
  lines.push(...table(report, OVERALL));
  for (const language of experiment.languages) lines.push(...table(report, language));
  if (report.paper) lines.push(...paperTable(report));
  return lines.join("\n");
}

/** The charts writeReport saves beside report.md as SVG (a Markdown viewer shows them inline). */
function charts(): string[] {
  return [
    "## Charts",
    "",
    "![Harm change vs win rate per language, each language's Pareto front](charts/pareto-languages.svg)",
    "",
    "![Harm change vs base per language](charts/harm-change.svg) ![Win rate vs base per language](charts/win-rate.svg)",
    "",
  ];
}

function recommendations(report: Report): string[] {
  const groups = decisionGroups(report).filter((g) => report.recommendations?.[g]);
  if (groups.length === 0) return ["## Recommendations", "", "No recommendation: the report has no reference mix or no comparable models.", ""];
  const picks = groups.map((g) => [g, report.recommendations[g]!] as const);
  const rules = [...new Set(picks.map(([, r]) => r.rule))];
  const shared = rules.length === 1;
  const lines = ["## Recommendations", ""];
  if (shared) lines.push(`Rule: ${rules[0]}`, "");
  lines.push(`| Where | Ship |${shared ? "" : " Rule |"} Why | Pareto front (merges and mixes) |`, `|---|---|${shared ? "" : "---|"}---|---|`);
  for (const [group, pick] of picks) {
    const ship = pick.model === null ? "no clear winner" : `**${escape(pick.model)}**`;
    const front = pick.front.length ? pick.front.map(escape).join(", ") : "—";
    lines.push(`| ${groupName(group)} | ${ship} |${shared ? "" : ` ${escape(pick.rule)} |`} ${escape(pick.reason)} | ${front} |`);
  }
  return [...lines, ""];
}

function regressions(report: Report): string[] {
  const reference = report.experiment.reference;
  if (!reference) return [];
  const found = report.regressions ?? [];
  const title = `## Regressions against ${escape(reference)}`;
  if (found.length === 0) return [title, "", `None: no merge is worse than ${escape(reference)} beyond noise (Holm-adjusted), in any language or overall.`, ""];
  return [title, "", ...found.map((r) => `- **${escape(regressionSentence(r, reference))}**`), ""];
}

function setup(report: Report): string[] {
  const { experiment, generation, judges } = report;
  const lines = ["## Set-up", ""];
  if (experiment.description) lines.push(experiment.description, "");
  lines.push(
    `Base model: **${escape(experiment.base)}**${experiment.reference ? `; reference data mix: **${escape(experiment.reference)}**` : ""}. ` +
      `Generation: max ${generation.max_tokens} tokens, temperature ${generation.temperature}` +
      `${generation.seed !== undefined ? `, seed ${generation.seed}` : ""}` +
      `${generation.limit_per_language ? `, first ${generation.limit_per_language} prompts per language` : ""}.`,
    "",
    `- Harm judge: ${escape(judgeText(judges.harm))}${uncovered(judges.harm.uncovered)}`,
    `- Preference judge: ${escape(judgeText(judges.preference))}${uncovered(judges.preference.uncovered)}`,
    "",
  );
  return lines;
}

function uncovered(languages: string[]): string {
  return languages.length ? `; not meant for ${languages.join(", ")} (results there are unreliable)` : "";
}

function howToRead(report: Report): string[] {
  const stats = report.statistics;
  const reference = report.experiment.reference ?? "the reference";
  const lines = ["## How to read the numbers", ""];
  if (stats) {
    lines.push(`- Intervals are ${levelText(stats.level)} intervals:`, ...stats.intervals.map((i) => `  - ${escape(i)}`));
    lines.push(`- Many comparisons: ${escape(sentence(stats.multiple_comparisons))}`);
  }
  lines.push(
    `- Differences from ${escape(reference)} are written out: "+4.2 pts less harm" is 4.2 points more harm reduction than ${escape(reference)}; "−3.0 win-rate pts" is 3 points lower win rate. ` +
      `"within noise": the difference's interval contains 0. "significant after Holm": below 5% after the correction for many comparisons.`,
    `- Detectable Δ: the smallest difference from ${escape(reference)} each cell could detect (80% power, two-sided 5%), in points of harmful rate / win rate, at that cell's n. A smaller difference is not evidence of no difference.`,
    "- A harm change is relative to the base's harmful rate: where it cannot be computed (e.g. the base has no harmful completions) it reads \"undefined\", with the reason under the table.",
    "",
  );
  return lines;
}

function table(report: Report, group: string): string[] {
  const reference = report.experiment.reference;
  const vs = reference ? `vs ${escape(reference)}` : "vs reference";
  const rows = [
    `## ${groupName(group)}`,
    "",
    `| Model | Role | Harm change vs base (%) | 95% CI | Harm ${vs} | Win rate vs base (%) | 95% CI | Win rate ${vs} | Harmful (%) | n red-team / general | Detectable Δ harmful / win (pts) | Unparsable | In language (%) |`,
    "|---|---|---:|---|---|---:|---|---|---:|---:|---:|---:|---:|",
  ];
  const footnotes = new Footnotes();
  const referenceCell = reference ? report.models[reference] && cellOf(report.models[reference]!, group) : undefined;
  for (const [name, model] of Object.entries(report.models)) {
    const cell = cellOf(model, group);
    if (!cell) continue;
    const delta = model.deltas_vs_reference?.[group];
    const noDelta = name === reference ? "reference" : "—";
    const undefinedHere = undefinedReason(cell);
    const harmChange = undefinedHere ? `undefined${superscript(footnotes.mark(undefinedHere))}` : formatNumber(cell.harm_rel_change_vs_base);
    const deltaUndefined = undefinedHere ?? undefinedReason(referenceCell);
    const harmDelta = delta ? differenceCell(harmDifference(delta), deltaUndefined && `undefined${superscript(footnotes.mark(deltaUndefined))}`) : noDelta;
    const winDelta = delta ? differenceCell(winDifference(delta)) : noDelta;
    rows.push(
      `| ${escape(name)} | ${roleText(model)} ` +
        `| ${harmChange} | ${formatCi(cell.harm_rel_change_vs_base_ci)} | ${harmDelta} ` +
        `| ${formatNumber(cell.win_rate_vs_base)} | ${formatCi(cell.win_rate_vs_base_ci)} | ${winDelta} ` +
        `| ${formatNumber(cell.harmful_rate)} | ${cell.n_redteam} / ${cell.n_general}${incompleteMark(cell)} ` +
        `| ${detectableText(cell.mde_pts?.harm)} / ${detectableText(cell.mde_pts?.win)} | ${cell.unparsable} | ${formatNumber(cell.in_language_rate)} |`,
    );
  }
  rows.push("");
  if (footnotes.reasons.length) rows.push(...footnotes.reasons.map((reason, i) => `${superscript(i + 1)} Harm change undefined: ${escape(reason)}`), "");
  return rows;
}

function roleText(model: ModelReport): string {
  return `${model.roles.join(", ")}${model.safety_mix !== undefined ? ` (${model.safety_mix}% safety)` : ""}`;
}

/** "+3.0 pts less harm [1.0, 5.0] (within noise)"; `ifNull` (e.g. "undefined¹") or "—" without a number. */
function differenceCell(words: DifferenceWords | null, ifNull?: string): string {
  return words ? escape(differenceSentence(words)) : (ifNull ?? "—");
}

/** " **incomplete** (3 / 0 missing)": a cell the run could not finish. */
export function incompleteMark(cell: MetricsCell): string {
  return cell.missing ? ` **incomplete** (${cell.missing.redteam} / ${cell.missing.general} missing)` : "";
}

const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";

function superscript(n: number): string {
  return [...String(n)].map((d) => SUPERSCRIPTS[Number(d)]).join("");
}

/** Every row of the paper's table: a line per model standing for it, or the paper's numbers alone ("no model"). */
function paperTable(report: Report): string[] {
  const paper = report.paper!;
  const gaps = paperGaps(paper);
  const lines = paperLines(paper).map((line) => {
    const numbers = PAPER_METRICS.map((metric) => {
      const cell = line.metrics[metric];
      return cell ? `${formatNumber(cell.ours)} / ${formatNumber(cell.paper)} / ${cell.difference === null ? "—" : formatSigned(cell.difference)}` : "";
    });
    return `| ${escape(line.row)} | ${line.model === null ? "no model" : escape(line.model)} | ${numbers.join(" | ")} |`;
  });
  return [
    `## Paper comparison: ${paper.title}`,
    "",
    `Source: ${paper.source}. The paper gives no intervals; Δ harm reduction is points of extra harm reduction vs the 15% mix. Each cell: ours / paper / ours − paper.`,
    "",
    "| Paper row | Model | Harm change vs base (%) | Win rate vs base (%) | Δ harm reduction vs 15% mix (pts) | Δ win rate vs 15% mix (pts) |",
    "|---|---|---:|---:|---:|---:|",
    ...lines,
    "",
    ...gaps.map((gap) => `- ${paperGapText(gap, escape, (c) => `\`${c}\``)}`),
    ...(gaps.length ? [""] : []),
  ];
}

function escape(text: string): string {
  return text.replace(/[|\\`*_<>]/g, (c) => `\\${c}`);
}
