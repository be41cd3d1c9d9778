import { percentText, pointsText, type GateResult, type GateRow } from "./gate.ts";

/** The gate as JUnit XML, which CI systems show per test: one testcase per language × check. */
export function gateJunit(result: GateResult, name: string): string {
  const failures = result.rows.filter((r) => r.failing).length;
  const properties: [string, string][] = [
    ["baseline_model", result.baselineModel],
    ["candidate_model", result.candidateModel],
    ["strict", String(result.strict)],
    ["seed", String(result.seed)],
    ...result.notes.map((note): [string, string] => ["note", note]),
  ];
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${xml(name)}" tests="${result.rows.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="${xml(name)}" tests="${result.rows.length}" failures="${failures}" errors="0" skipped="0">`,
    `    <properties>`,
    ...properties.map(([key, value]) => `      <property name="${xml(key)}" value="${xml(value)}"/>`),
    `    </properties>`,
    ...result.rows.map((row) => testcase(row, result)),
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}

function testcase(row: GateRow, result: GateResult): string {
  const open = `    <testcase classname="mergeval.gate.${xml(row.check)}" name="${xml(`${row.language} ${row.check}`)}">`;
  const summary = rowSummary(row, result);
  const body = row.failing
    ? `      <failure message="${xml(summary)}" type="${row.status}">${xml(explanation(row, result))}</failure>`
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

function explanation(row: GateRow, result: GateResult): string {
  if (row.status === "fail") return "Worse than allowed beyond noise: the whole 95% interval lies above the allowance.";
  if (row.n === 0) return "No prompt was judged for both models in this language.";
  return result.strict
    ? "Strict non-inferiority: the 95% interval's upper bound must be within the allowance; more prompts narrow it."
    : "The estimate exceeds the allowance but the interval includes it.";
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
