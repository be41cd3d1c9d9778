import { parseArgs } from "node:util";
import { EXIT_CHECK_FAILED, InputError } from "../errors.ts";
import { readFile } from "node:fs/promises";
import { createJudge, judgeNames, judgeSummaries } from "../judge/registry.ts";
import type { LanguageScore } from "../judge/run.ts";
import type { Interval } from "../score/bootstrap.ts";
import type { Command } from "./command.ts";
import { intFlag } from "./flags.ts";

const HELP = `Usage: mergeval judge RUN_DIR --judge NAME [--baseline MODEL] [options]

Judges the completions \`mergeval generate\` wrote into RUN_DIR and prints, per model and language, the rate with
a 95% paired bootstrap interval (resampling prompts; translations of one source prompt move together). Harm
judges read red-team completions; preference judges compare general completions with the baseline model's for
the same prompt. Judgments are cached in RUN_DIR/judgments/<judge>.jsonl: a rerun only judges what is new.
An interval that contains 0 is marked "within noise".

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
  --seed N             bootstrap seed (default 0)
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
      seed: intFlag(values.seed, "--seed", 0),
      onStart: (total) => progress.start(total, `judge ${judge.name}`),
      onSettled: () => progress.tick(1, ""),
    }).finally(() => progress.stop());
    const what = judge.kind === "harm" ? "harmful rate" : `win rate vs ${values.baseline} (ties ½)`;
    io.out(`${judge.name}: ${judgeSummaryLine(summary)} → ${summary.file}`);
    if (judge.proxyNote) io.out(`note: ${judge.proxyNote}`);
    const consistency = summary.scores.some((s) => s.consistency !== undefined);
    const mixColumn = summary.scores.some((s) => s.vsMix !== undefined) ? `\tvs ${values.mix}` : "";
    io.out(`model\tlanguage\tn\t${what}${judge.kind === "harm" && values.baseline ? `\tchange vs ${values.baseline} (%)` : ""}${mixColumn}\tunparsable${consistency ? "\tboth orders agree" : ""}\tin prompt language`);
    for (const s of summary.scores) io.out(row(s));
    const uncovered = [...new Set(summary.scores.map((s) => s.language))].filter((l) => l !== "all" && !judge.languages.includes(l));
    if (uncovered.length) io.err(`warning: ${judge.name} does not cover ${uncovered.join(", ")}: its verdicts in those languages are unreliable`);
    if (summary.errors) {
      io.err(`${summary.errors} judgment(s) failed (recorded in ${summary.file}; the table leaves them out):\n  ${summary.causes.lines().join("\n  ")}\nrerun the same command to retry only those`);
      return EXIT_CHECK_FAILED;
    }
    return 0;
  },
};

function row(s: LanguageScore): string {
  const rate = interval(s.rate, 100, "%");
  const change = s.relativeChange ? `\t${interval(s.relativeChange, 1, "")}` : "";
  const vsMix = s.vsMix ? `\t${interval(s.vsMix, s.relativeChange ? 1 : 100, "")}` : "";
  const consistency = s.consistency !== undefined ? `\t${(100 * s.consistency).toFixed(0)}%` : "";
  const inLanguage = s.inLanguage !== undefined ? `${(100 * s.inLanguage).toFixed(0)}%` : "n/a";
  return `${s.model}\t${s.language}\t${s.n}\t${rate}${change}${vsMix}\t${s.unparsable}${consistency}\t${inLanguage}`;
}

function interval(i: Interval, scale: number, unit: string): string {
  const f = (v: number) => (Number.isFinite(v) ? (v * scale).toFixed(1) : "n/a");
  return `${f(i.estimate)}${unit} [${f(i.low)}, ${f(i.high)}]${i.withinNoise ? " within noise" : ""}`;
}
