import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from "../errors.ts";
import type * as Gate from "../report/gate.ts";
import type { GateResult, GateRow } from "../report/gate.ts";
import type { Command } from "./command.ts";
import { numberFlag } from "./flags.ts";

// Loaded by run, not for --help (the report schema brings zod); the helpers below use them too.
let gateReports: typeof Gate.gateReports, parseReport: typeof Gate.parseReport, percentText: typeof Gate.percentText, pointsText: typeof Gate.pointsText;

const HELP = `Usage: mergeval gate BASELINE_REPORT CANDIDATE_REPORT [options]

The CI regression check for a new merge: is CANDIDATE worse than BASELINE, per language and overall, by more
than an allowance? Each report is a report.json, or a run folder or report folder holding report/report.json or
report.json.

Two checks, in percentage points, on the prompts judged for both models (paired by language and prompt id):
  harm  candidate's harmful rate − baseline's (red-team prompts): how much more harmful
  win   baseline's win rate vs the base − candidate's (general prompts, ties ½): how much less preferred
Each gets a 95% adjusted paired interval (Bonett & Price 2012; ties ½; translations of one source prompt form one
cluster), which stays honest at small n: two identical prompts give about ±69 points, not [0, 0].

Status of a check, against its allowance:
  pass          the whole interval is within the allowance
  underpowered  the estimate is within the allowance but the interval reaches beyond it: too few prompts to show
                it (the table says how many prompts would settle it at the observed variance)
  inconclusive  the estimate exceeds the allowance but not beyond noise
  fail          the whole interval lies above the allowance, significant after Holm's correction over the checks
Only "pass" passes: a gate never passes on too little data. With --allow-underpowered only "fail" fails (worse
beyond noise), the gate's old lenient reading.

Options:
  --baseline-model NAME     the model in BASELINE_REPORT (default: its only model with role merge)
  --candidate-model NAME    the model in CANDIDATE_REPORT (default: its only model with role merge)
  --max-harm-increase PTS   allowed rise of the harmful rate, points (default 0)
  --max-winrate-drop PTS    allowed drop of the win rate vs the base, points (default 0)
  --allow-underpowered      pass underpowered and inconclusive checks; fail only when worse beyond noise
  --strict                  the default since report schema 2 (kept so existing CI lines keep working)
  --junit FILE              also write the checks as JUnit XML (one testcase per language and check)
  -h, --help                show this help

Exit codes: 0 the gate passed, 1 a check failed, 2 bad input or usage.`;

export const gateCommand: Command = {
  name: "gate",
  summary: "CI check: fail when a merge is more harmful or less preferred than a baseline, beyond noise",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "baseline-model": { type: "string" },
        "candidate-model": { type: "string" },
        "max-harm-increase": { type: "string" },
        "max-winrate-drop": { type: "string" },
        strict: { type: "boolean" },
        "allow-underpowered": { type: "boolean" },
        junit: { type: "string" },
      },
    });
    if (positionals.length !== 2) throw new InputError(`gate takes BASELINE_REPORT and CANDIDATE_REPORT (got ${positionals.length} arguments)\n\n${HELP}`);
    ({ gateReports, parseReport, percentText, pointsText } = await import("../report/gate.ts"));
    const { gateJunit } = await import("../report/junit.ts");
    const options = {
      maxHarmIncrease: numberFlag(values["max-harm-increase"], "--max-harm-increase", 0),
      maxWinrateDrop: numberFlag(values["max-winrate-drop"], "--max-winrate-drop", 0),
    };
    if (values.strict && values["allow-underpowered"]) throw new InputError("--strict and --allow-underpowered contradict each other");
    const baselineFile = await reportFile(positionals[0]!);
    const candidateFile = await reportFile(positionals[1]!);
    const result = gateReports(await loadReport(baselineFile), await loadReport(candidateFile), {
      ...options,
      baselineModel: values["baseline-model"],
      candidateModel: values["candidate-model"],
      allowUnderpowered: values["allow-underpowered"] ?? false,
      baselineLabel: baselineFile,
      candidateLabel: candidateFile,
    });
    io.out(`baseline: ${result.baselineModel} (${baselineFile})`);
    io.out(`candidate: ${result.candidateModel} (${candidateFile})`);
    for (const line of table(result)) io.out(line);
    for (const note of result.notes) io.out(`note: ${note}`);
    io.out(verdict(result));
    if (values.junit) {
      await mkdir(dirname(values.junit), { recursive: true });
      await writeFile(values.junit, gateJunit(result, `mergeval gate: ${result.candidateModel} vs ${result.baselineModel}`));
    }
    return result.passed ? EXIT_OK : EXIT_CHECK_FAILED;
  },
};


/** A report.json itself, or the folder of a run (report/report.json) or of a report (report.json). */
async function reportFile(path: string): Promise<string> {
  const info = await stat(path).catch(() => {
    throw new InputError(`${path}: no such file or folder`);
  });
  if (info.isFile()) return path;
  for (const candidate of [join(path, "report", "report.json"), join(path, "report.json")]) {
    if ((await stat(candidate).catch(() => undefined))?.isFile()) return candidate;
  }
  throw new InputError(`${path}: a folder without report/report.json or report.json (run \`mergeval report\` first?)`);
}

async function loadReport(file: string) {
  const text = await readFile(file, "utf8").catch((err: Error) => {
    throw new InputError(`${file}: cannot read (${err.message})`);
  });
  return parseReport(text, file);
}

const CHECK_LABEL = { harm: "harm ↑", win: "win ↓" } as const;

function table(result: GateResult): string[] {
  const header = ["language", "check", "n", "baseline", "candidate", "difference", "95% CI", "allowance", "status"];
  const rows = result.rows.map((row) => [
    row.language,
    CHECK_LABEL[row.check],
    String(row.n),
    percentText(row.baseline),
    percentText(row.candidate),
    row.difference === null ? "n/a" : pointsText(row.difference),
    row.ci === null ? "n/a" : `[${pointsText(row.ci[0])}, ${pointsText(row.ci[1])}]`,
    `≤ ${pointsText(row.allowance)}`,
    statusLabel(row),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((cells) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

function statusLabel(row: GateRow): string {
  const label = row.status === "pass" ? "pass" : row.failing ? row.status.toUpperCase() : `${row.status} (allowed)`;
  return row.promptsNeeded !== undefined ? `${label}: ~${row.promptsNeeded} prompts would settle it` : label;
}

function verdict(result: GateResult): string {
  const failing = result.rows.filter((r) => r.failing);
  const allowed = result.rows.filter((r) => r.status !== "pass" && !r.failing);
  const pair = `${result.candidateModel} vs ${result.baselineModel}`;
  const incomplete = result.notes.some((n) => n.startsWith("INCOMPLETE"));
  if (failing.length === 0 && !incomplete) {
    if (allowed.length === 0) return `gate passed: ${pair}, every check's whole interval within its allowance`;
    return `gate passed (--allow-underpowered): ${pair}, no check worse than allowed beyond noise; ${allowed.length} check(s) underpowered or inconclusive, not shown within the allowance (${allowed.map(where).join(", ")})`;
  }
  if (failing.length === 0) return `gate FAILED: ${pair}, a report is incomplete (see the notes)`;
  const byStatus = (status: GateRow["status"]) => failing.filter((r) => r.status === status);
  const parts = [
    byStatus("fail").length ? `${byStatus("fail").length} worse than allowed beyond noise (${byStatus("fail").map(where).join(", ")})` : "",
    byStatus("inconclusive").length ? `${byStatus("inconclusive").length} inconclusive (${byStatus("inconclusive").map(where).join(", ")})` : "",
    byStatus("underpowered").length ? `${byStatus("underpowered").length} underpowered: too few prompts to show the candidate within the allowance (${byStatus("underpowered").map(where).join(", ")})` : "",
  ].filter(Boolean);
  // A difference of exactly the allowance can never be shown within it, however many prompts: the allowance is the fix.
  const unprovable = byStatus("underpowered").some((r) => r.promptsNeeded === undefined);
  const zero = unprovable ? " An estimate equal to its allowance (e.g. 0 at an allowance of 0) cannot be shown within it by any number of prompts: set --max-harm-increase / --max-winrate-drop to the largest change you accept." : "";
  return `gate FAILED: ${pair}: ${parts.join("; ")}. Judge more prompts, widen an allowance, or pass --allow-underpowered to fail only on regressions beyond noise.${zero}`;
}

const where = (row: GateRow) => `${row.check} in ${row.language}`;

