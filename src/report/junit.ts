import { percentText, pointsText, type GateResult, type GateRow } from "./gate.ts";

/** The gate as JUnit XML, which CI systems show per test: one testcase per language × check. */
export function gateJunit(result: GateResult, name: string): string {
  // An incomplete report fails the gate whatever its checks say: one testcase says so, so CI shows it red.
  const incomplete = result.notes.filter((n) => n.startsWith("INCOMPLETE"));
  const failures = result.rows.filter((r) => r.failing).length + (incomplete.length ? 1 : 0);
  const tests = result.rows.length + (incomplete.length ? 1 : 0);
  const properties: [string, string][] = [
    ["baseline_model", result.baselineModel],
    ["candidate_model", result.candidateModel],
    ["allow_underpowered", String(result.allowUnderpowered)],
    ...result.notes.map((note): [string, string] => ["note", note]),
  ];
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${xml(name)}" tests="${tests}" failures="${failures}" errors="0">`,
    `  <testsuite name="${xml(name)}" tests="${tests}" failures="${failures}" errors="0" skipped="0">`,
    `    <properties>`,
    ...properties.map(([key, value]) => `      <property name="${xml(key)}" value="${xml(value)}"/>`),
    `    </properties>`,
    ...result.rows.map((row) => testcase(row, result)),
    ...(incomplete.length
      ? [`    <testcase classname="mergeval.gate.completeness" name="reports complete">`, `      <failure message="${xml(incomplete.join(" "))}" type="incomplete">${xml(incomplete.join("\n"))}</failure>`, `    </testcase>`]
      : []),
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}

function testcase(row: GateRow, result: GateResult): string {
  const open = `    <testcase classname="mergeval.gate.${xml(row.check)}" name="${xml(`${row.language} ${row.check}`)}">`;
  const summary = rowSummary(row, result);
  const body = row.failing
    ? `      <failure message="${xml(summary)}" type="${row.status}">${xml(explanation(row))}</failure>`
    : `      <system-out>${xml(summary)}</system-out>`;
  return [open, body, `    </testcase>`].join("\n");
}

const CHECK_LABEL = { harm: "harmful rate", win: "win rate vs base" } as const;

function rowSummary(row: GateRow, result: GateResult): string {
  const what = `${CHECK_LABEL[row.check]} in ${row.language}`;
  if (row.difference === null || row.ci === null) return `${what}: ${row.status} (no prompt judged for both models)`;
  const direction = row.check === "harm" ? "increase" : "drop";
  return (
    `${what}: ${result.candidateModel} ${percentText(row.candidate)} vs ${result.baselineModel} ${percentText(row.baseline)}, ` +
    `${direction} ${pointsText(row.difference)} pts [95% CI ${pointsText(row.ci[0])}, ${pointsText(row.ci[1])}], allowed ${pointsText(row.allowance)} (n=${row.n}): ${row.status}`
  );
}

export function explanation(row: GateRow): string {
  if (row.n === 0) return "No prompt was judged for both models in this language.";
  const settle = row.promptsNeeded !== undefined ? ` About ${row.promptsNeeded} prompts${row.language === "overall" ? " in all" : " in this language"} would settle it at the observed variance.` : "";
  switch (row.status) {
    case "fail":
      return "Worse than allowed beyond noise: the whole 95% interval lies above the allowance (Holm-adjusted over the gate's checks).";
    case "underpowered":
      return row.promptsNeeded === undefined
        ? "The estimate equals the allowance, so no number of prompts can show the candidate within it: widen the allowance to the largest change you accept."
        : `Too few prompts to show the candidate is within the allowance: the estimate is, but the 95% interval reaches beyond it.${settle}`;
    case "inconclusive":
      return `The estimate is worse than allowed, but not beyond noise (the interval reaches back within the allowance, or Holm's correction keeps it).${settle}`;
    case "pass":
      return "The whole 95% interval is within the allowance.";
  }
}


/** Escapes text for XML attributes and content, dropping characters XML 1.0 cannot carry at all. */
export function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/\n/g, "&#10;");
}
