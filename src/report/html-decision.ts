import { escapeHtml, tableHtml } from "./html-escape.ts";
import type { JudgeReport, Report } from "./types.ts";
import { decisionGroups, groupName, judgeText, levelText, regressionSentence, sentence } from "./wording.ts";

/** The top of report.html: what to ship and why, what got worse, what to keep in mind, how the run was set up and how to read it. */

export function recommendationsSection(report: Report): string {
  const picks = decisionGroups(report).flatMap((g) => (report.recommendations?.[g] ? [[g, report.recommendations[g]!] as const] : []));
  const title = '<h2 id="recommendations">Recommendations</h2>';
  if (picks.length === 0) return `<section class="decision" aria-labelledby="recommendations">\n${title}\n<p>No recommendation: the report has no reference mix or no comparable models.</p>\n</section>`;
  const rules = [...new Set(picks.map(([, r]) => r.rule))];
  const shared = rules.length === 1;
  const head = ["Where", "Ship", ...(shared ? [] : ["Rule"]), "Why", "Pareto front (merges and mixes)"];
  const rows = picks.map(([group, pick]) => {
    const ship = pick.model === null ? '<td class="no-pick">no clear winner</td>' : `<td class="pick">${escapeHtml(pick.model)}</td>`;
    const front = pick.front.length ? pick.front.map(escapeHtml).join(", ") : "—";
    return `<tr><th scope="row">${escapeHtml(groupName(group))}</th>${ship}${shared ? "" : `<td>${escapeHtml(pick.rule)}</td>`}<td>${escapeHtml(pick.reason)}</td><td>${front}</td></tr>`;
  });
  return [
    '<section class="decision" aria-labelledby="recommendations">',
    title,
    shared ? `<p class="rule"><strong>Rule:</strong> ${escapeHtml(rules[0]!)}</p>` : "",
    tableHtml(head, rows),
    "</section>",
  ].filter(Boolean).join("\n");
}

export function regressionsSection(report: Report): string {
  const reference = report.experiment.reference;
  if (!reference) return "";
  const found = report.regressions ?? [];
  const title = `<h2 id="regressions">Regressions against ${escapeHtml(reference)}</h2>`;
  if (found.length === 0) {
    return `<section class="regressions none" role="note" aria-labelledby="regressions">\n${title}\n<p>None: no merge is worse than ${escapeHtml(reference)} beyond noise (Holm-adjusted), in any language or overall.</p>\n</section>`;
  }
  const items = found.map((r) => `<li>${escapeHtml(regressionSentence(r, reference))}</li>`);
  return `<section class="regressions" role="note" aria-labelledby="regressions">\n${title}\n<ul>\n${items.join("\n")}\n</ul>\n</section>`;
}

export function notesBox({ notes }: Report): string {
  if (notes.length === 0) return "";
  return `<section class="notes" role="note" aria-labelledby="notes">\n<h2 id="notes">Read this first</h2>\n<ul>\n${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("\n")}\n</ul>\n</section>`;
}

export function setupSection({ experiment, generation, judges }: Report): string {
  const facts = [
    `Base: ${experiment.base}`,
    experiment.reference ? `reference mix: ${experiment.reference}` : undefined,
    `languages: ${experiment.languages.join(", ")}`,
    `max tokens ${generation.max_tokens}, temperature ${generation.temperature}`,
    generation.seed !== undefined ? `seed ${generation.seed}` : undefined,
    generation.limit_per_language !== undefined ? `${generation.limit_per_language} prompts per language` : undefined,
  ].filter((fact) => fact !== undefined);
  return [
    '<section aria-labelledby="setup">',
    '<h2 id="setup">Set-up</h2>',
    experiment.description ? `<p>${escapeHtml(experiment.description)}</p>` : "",
    `<p class="meta">${escapeHtml(facts.join(" · "))}</p>`,
    `<ul>\n<li>${judgeItem("Harm judge", judges.harm)}</li>\n<li>${judgeItem("Preference judge", judges.preference)}</li>\n</ul>`,
    "</section>",
  ].filter(Boolean).join("\n");
}

function judgeItem(label: string, judge: JudgeReport): string {
  const parts = [`<strong>${escapeHtml(label)}:</strong> ${escapeHtml(judgeText(judge))}.`];
  if (judge.proxy_note) parts.push(escapeHtml(sentence(judge.proxy_note)));
  if (judge.uncovered.length > 0) parts.push(`Not meant for ${escapeHtml(judge.uncovered.join(", "))}: results there are unreliable.`);
  return parts.join(" ");
}

export function readingSection(report: Report): string {
  const stats = report.statistics;
  const reference = escapeHtml(report.experiment.reference ?? "the reference");
  const items = [
    ...(stats
      ? [
          `Intervals are ${levelText(stats.level)} intervals:<ul>${stats.intervals.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`,
          `Many comparisons: ${escapeHtml(sentence(stats.multiple_comparisons))}`,
        ]
      : []),
    `Differences from ${reference} are written out: “+4.2 pts less harm” is 4.2 points more harm reduction than ${reference}; “−3.0 win-rate pts” is a win rate 3 points lower. ` +
      `<em>within noise</em>: the difference's interval contains 0. <em>significant after Holm</em>: below 5% after the correction for many comparisons (coloured: green better, red worse).`,
    `Detectable Δ: the smallest difference from ${reference} a cell could detect (80% power, two-sided 5%), in points of harmful rate or win rate, at that cell's n. A smaller difference is not evidence of no difference.`,
    "A harm change is relative to the base's harmful rate: where it cannot be computed (e.g. the base has no harmful completions) it reads <em>undefined</em>, with the reason under the table.",
  ];
  return `<section aria-labelledby="reading">\n<h2 id="reading">How to read the numbers</h2>\n<ul>\n${items.map((i) => `<li>${i}</li>`).join("\n")}\n</ul>\n</section>`;
}
