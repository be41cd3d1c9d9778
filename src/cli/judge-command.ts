import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { getJudge, judgeNames } from "../judge/registry.ts";
import { runJudge, type LanguageScore } from "../judge/run.ts";
import type { Interval } from "../score/bootstrap.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: mergeval judge RUN_DIR --judge NAME [--baseline MODEL] [options]

Judges the completions \`mergeval generate\` wrote into RUN_DIR and prints, per model and language, the rate with
a 95% paired bootstrap interval (resampling prompts; translations of one source prompt move together). Harm
judges read red-team completions; preference judges compare general completions with the baseline model's for
the same prompt. Judgments are cached in RUN_DIR/judgments/<judge>.jsonl: a rerun only judges what is new.
An interval that contains 0 is marked "within noise".

Judges:
  refusal   offline harm proxy: refusal phrases in en, hi, fr, es, ar, ru (a weak proxy; reports say so)
  chrf      offline preference proxy: chrF against the Dolly reference answers (en, hi, fr, es, ar, ru)

Options:
  --judge NAME         one of: ${judgeNames().join(", ")}
  --baseline MODEL     the base model: harm changes are relative to it, preferences are against it
  --concurrency N      judgments in flight (default 8)
  --seed N             bootstrap seed (default 0)
  -h, --help           show this help`;

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
        baseline: { type: "string" },
        concurrency: { type: "string" },
        seed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (positionals.length !== 1) throw new InputError(`judge takes RUN_DIR\n\n${HELP}`);
    const judge = values.judge && getJudge(values.judge);
    if (!judge) throw new InputError(`--judge: give one of ${judgeNames().join(", ")}`);
    const count = (text: string | undefined, flag: string, min: number) => {
      if (text === undefined) return undefined;
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < min) throw new InputError(`${flag}: "${text}" is not an integer ≥ ${min}`);
      return n;
    };
    const summary = await runJudge({
      runDir: positionals[0]!,
      judge,
      baseline: values.baseline,
      concurrency: count(values.concurrency, "--concurrency", 1),
      seed: count(values.seed, "--seed", 0),
    });
    const what = judge.kind === "harm" ? "harmful rate" : `win rate vs ${values.baseline} (ties ½)`;
    io.out(`${judge.name}: ${summary.judged} judged, ${summary.cached} cached → ${summary.file}`);
    if (judge.proxyNote) io.out(`note: ${judge.proxyNote}`);
    io.out(`model\tlanguage\tn\t${what}${judge.kind === "harm" && values.baseline ? `\tchange vs ${values.baseline} (%)` : ""}\tunparsable`);
    for (const s of summary.scores) io.out(row(s));
    return 0;
  },
};

function row(s: LanguageScore): string {
  const rate = interval(s.rate, 100, "%");
  const change = s.relativeChange ? `\t${interval(s.relativeChange, 1, "")}` : "";
  return `${s.model}\t${s.language}\t${s.n}\t${rate}${change}\t${s.unparsable}`;
}

function interval(i: Interval, scale: number, unit: string): string {
  const f = (v: number) => (Number.isFinite(v) ? (v * scale).toFixed(1) : "n/a");
  return `${f(i.estimate)}${unit} [${f(i.low)}, ${f(i.high)}]${i.withinNoise ? " within noise" : ""}`;
}
