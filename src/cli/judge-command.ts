import { parseArgs } from "node:util";
import { EXIT_CHECK_FAILED, InputError } from "../errors.ts";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { createJudge, judgeNames, judgeSummaries } from "../judge/registry.ts";
import type { LanguageScore } from "../judge/run.ts";
import type { Interval } from "../score/interval.ts";
import type { Command } from "./command.ts";
import { intFlag } from "./flags.ts";

const HELP = `Usage: mergeval judge RUN_DIR --judge NAME [--baseline MODEL] [options]

Judges the completions \`mergeval generate\` wrote into RUN_DIR and prints, per model and language, the rate with
a 95% interval that holds at small n (Wilson for rates; adjusted paired intervals for changes and differences;
translations of one source prompt count as one cluster). Harm judges read red-team completions; preference judges
compare general completions with the baseline model's for the same prompt. Judgments are cached in
RUN_DIR/judgments/<judge>.jsonl: a rerun only judges what is new. A difference whose interval contains 0 is
marked "within noise"; every row has every column (empty where it does not apply), one unit per column.

Judges (and the languages each covers):
${judgeSummaries().map((j) => `  ${j.name.padEnd(13)} ${j.summary}`).join("\n")}

Options:
  --judge NAME         one of: ${judgeNames().join(", ")}
  --endpoint URL       LLM judges: an OpenAI-compatible endpoint (repeatable), with --model NAME
  --model NAME         LLM judges: the judge model
  --api-key-env VAR    LLM judges: the environment variable holding the API key (never written anywhere)
  --template FILE      LLM judges: a prompt template replacing the default (placeholders {prompt},
                       {response}, {language}; pairwise: {response_a}, {response_b})
  --baseline MODEL     the base model: harm changes are relative to it, preferences are against it
  --mix MODEL          the data-mixing baseline (the paper's 15% mix): each model's difference from it, with
                       its interval (points of harm change, or of win rate)
  --single-order       llm-pairwise: one order per prompt, randomised with --seed (cheaper; no consistency)
  --concurrency N      judgments in flight (default 8)
  --seed N             with --single-order: the seed of the order (default 0)
  --json FILE          also write the scores at full precision (percent, report.json's units) for scripts
  -q, --quiet          no progress bar
  -h, --help           show this help

An LLM judge's endpoint is checked before the first request (reachable, key accepted, model served): if it
cannot be used, nothing is judged (exit 2). Requests to an endpoint stop after 3 connection failures in a row.

Exit codes: 0 every judgment made; 1 some judgments failed (recorded with their cause; a rerun retries only
those); 2 bad input or an unusable endpoint.`;

export const judgeCommand: Command = {
  name: "judge",
  summary: "judge a run's completions (harm rate, win rate vs a baseline) with paired intervals",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        judge: { type: "string" },
        endpoint: { type: "string", multiple: true },
        model: { type: "string" },
        "api-key-env": { type: "string" },
        template: { type: "string" },
        "single-order": { type: "boolean" },
        baseline: { type: "string" },
        mix: { type: "string" },
        concurrency: { type: "string" },
        seed: { type: "string" },
        json: { type: "string" },
        quiet: { type: "boolean", short: "q" },
      },
    });
    if (positionals.length !== 1) throw new InputError(`judge takes RUN_DIR\n\n${HELP}`);
    const { judgeSummaryLine, runJudge } = await import("../judge/run.ts");
    const { createProgress } = await import("./progress.ts");
    if (!values.judge) throw new InputError(`--judge: give one of ${judgeNames().join(", ")}`);
    if (values.endpoint?.length && !values.model) throw new InputError("--model NAME is required with --endpoint");
    const template = values.template
      ? await readFile(values.template, "utf8").catch(() => {
          throw new InputError(`--template: cannot read ${values.template}`);
        })
      : undefined;
    const judge = createJudge(values.judge, {
      ...(values.endpoint?.length ? { endpoint: { baseUrls: values.endpoint, model: values.model!, ...(values["api-key-env"] ? { apiKeyEnv: values["api-key-env"] } : {}) } } : {}),
      ...(template ? { template } : {}),
      ...(values["single-order"] ? { singleOrderSeed: intFlag(values.seed, "--seed", 0) ?? 0 } : {}),
    });
    const progress = createProgress({ quiet: values.quiet ?? false, unit: "items", periodicMs: 10_000 });
    const summary = await runJudge({
      runDir: positionals[0]!,
      judge,
      baseline: values.baseline,
      mix: values.mix,
      concurrency: intFlag(values.concurrency, "--concurrency", 1),
      onStart: (total) => progress.start(total, `judge ${judge.name}`),
      onSettled: () => progress.tick(1, ""),
    }).finally(() => progress.stop());
    io.out(`${judge.name}: ${judgeSummaryLine(summary)} → ${summary.file}`);
    if (judge.proxyNote) io.out(`note: ${judge.proxyNote}`);
    const columns = scoreColumns(judge.kind, values.baseline, values.mix, summary.scores);
    io.out(columns.map((c) => c.header).join("\t"));
    for (const s of summary.scores) io.out(columns.map((c) => c.cell(s)).join("\t"));
    if (values.json) await writeJson(values.json, judge, values.baseline, values.mix, summary.scores);
    const uncovered = [...new Set(summary.scores.map((s) => s.language))].filter((l) => l !== "all" && !judge.languages.includes(l));
    if (uncovered.length) io.err(`warning: ${judge.name} does not cover ${uncovered.join(", ")}: its verdicts in those languages are unreliable`);
    if (summary.errors) {
      io.err(`${summary.errors} judgment(s) failed (recorded in ${summary.file}; the table leaves them out):\n  ${summary.causes.lines().join("\n  ")}\nrerun the same command to retry only those`);
      return EXIT_CHECK_FAILED;
    }
    return 0;
  },
};

interface Column {
  header: string;
  /** Every row has every column: empty where a value does not apply to that row. */
  cell: (s: LanguageScore) => string;
}

/** One unit per column, named in its header; "within noise" only on differences. */
function scoreColumns(kind: "harm" | "preference", baseline: string | undefined, mix: string | undefined, scores: readonly LanguageScore[]): Column[] {
  const columns: Column[] = [
    { header: "model", cell: (s) => s.model },
    { header: "language", cell: (s) => s.language },
    { header: "n", cell: (s) => String(s.n) },
    { header: kind === "harm" ? "harmful rate (%)" : `win rate vs ${baseline} (%, ties ½)`, cell: (s) => interval(s.rate, 100, false) },
  ];
  if (kind === "harm" && baseline !== undefined) {
    columns.push({ header: `harm change vs ${baseline} (%)`, cell: (s) => (s.relativeChange ? interval(s.relativeChange, 1, false) : s.relativeChangeUndefined ? "undefined" : "") });
  }
  if (scores.some((s) => s.vsMix !== undefined)) {
    const header = kind === "harm" ? `harm reduction vs ${mix} (pts of harm change)` : `win rate vs ${mix} (pts)`;
    columns.push({ header, cell: (s) => (s.vsMix ? interval(s.vsMix, kind === "harm" ? 1 : 100, true) : "") });
  }
  columns.push({ header: "unparsable", cell: (s) => String(s.unparsable) });
  if (scores.some((s) => s.consistency !== undefined)) columns.push({ header: "both orders agree (%)", cell: (s) => (s.consistency !== undefined ? (100 * s.consistency).toFixed(0) : "") });
  columns.push({ header: "in prompt language (%)", cell: (s) => (s.inLanguage !== undefined ? (100 * s.inLanguage).toFixed(0) : "n/a") });
  return columns;
}

function interval(i: Interval, scale: number, difference: boolean): string {
  const f = (v: number) => (Number.isFinite(v) ? (v * scale).toFixed(1) : "n/a");
  return `${f(i.estimate)} [${f(i.low)}, ${f(i.high)}]${difference && i.withinNoise ? " within noise" : ""}`;
}

/** The scores at full precision, in report.json's units (percent; intervals as [low, high]), for scripts. */
async function writeJson(file: string, judge: { name: string; kind: string }, baseline: string | undefined, mix: string | undefined, scores: readonly LanguageScore[]): Promise<void> {
  const pct = (i: Interval | undefined, scale: number) => (i ? { value: finite(i.estimate * scale), ci: [finite(i.low * scale), finite(i.high * scale)] } : null);
  const rows = scores.map((s) => ({
    model: s.model,
    language: s.language,
    n: s.n,
    unparsable: s.unparsable,
    [judge.kind === "harm" ? "harmful_rate" : "win_rate_vs_base"]: pct(s.rate, 100),
    ...(judge.kind === "harm" ? { harm_rel_change_vs_base: pct(s.relativeChange, 1), ...(s.relativeChangeUndefined ? { harm_rel_change_undefined: s.relativeChangeUndefined } : {}) } : {}),
    ...(mix !== undefined ? { [judge.kind === "harm" ? "harm_reduction_pts_vs_mix" : "win_rate_pts_vs_mix"]: s.vsMix ? { ...pct(s.vsMix, judge.kind === "harm" ? 1 : 100)!, p: s.vsMix.p, within_noise: s.vsMix.withinNoise } : null } : {}),
    order_consistency: s.consistency !== undefined ? 100 * s.consistency : null,
    in_language_rate: s.inLanguage !== undefined ? 100 * s.inLanguage : null,
  }));
  await mkdir(dirname(resolve(file)), { recursive: true });
  await writeFile(file, `${JSON.stringify({ judge: judge.name, kind: judge.kind, baseline: baseline ?? null, mix: mix ?? null, scores: rows }, null, 2)}\n`);
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
