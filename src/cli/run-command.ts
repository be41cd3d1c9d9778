import { setMaxListeners } from "node:events";
import { parseArgs } from "node:util";
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, InputError } from "../errors.ts";
import type { RunOutcome } from "../experiment/index.ts";
import type { Command, CommandIO } from "./command.ts";

/** The run stopped at the experiment's budget: finished work is kept, a rerun with a larger budget continues. */
export const EXIT_BUDGET = 3;
export const EXIT_INTERRUPTED = 130;

const HELP = `Usage: mergeval run EXPERIMENT.yml [--out RUN_DIR] [--dry-run] [--merge-only]

Runs a whole study from one experiment file: merge the experts (every recipe and sweep point) → generate
completions for every model on the red-team and general prompts of each language → judge harm and preference
against the base model → write the per-language report comparing every merge with the data-mixing baselines
to RUN_DIR/report/ (report.json, .csv, .md, .html) and to report_dir: when the file sets one.

Everything is cached in RUN_DIR (default runs/<name>): merges whose recipe is unchanged, generations and
judgments. A killed or interrupted run resumes where it stopped, and its final report is byte-identical to an
uninterrupted run's. The file's keys are documented in experiments/README.md.

Models, merges and judges with \`serve: <profile>\` are served by a server mergeval starts from the file's
\`servers:\` section (e.g. vLLM), on a free port, logging to RUN_DIR/servers/<model>.log, and stops once their
work is done; \`parallel: N\` keeps N of them busy. Ctrl-C or SIGTERM stops every server it started; a run
killed outright leaves their pids in RUN_DIR/servers/, and the next run stops them first.

Options:
  --out RUN_DIR   the run folder (default runs/<name from the file>)
  --merge-only    run the merges and stop (no server is started)
  --dry-run       print what would run (merges; generations, judge calls and estimated tokens per language;
                  the servers it would start, in order, with their commands) and stop: the cost preflight
  -q, --quiet     no progress bars
  -h, --help      show this help

Exit codes: 0 report written; 1 some generations or judgments failed (recorded; rerun to retry only those);
2 bad input; 3 stopped at the experiment's budget (rerun with a larger budget to continue); 130 interrupted.`;

export const runCommand: Command = {
  name: "run",
  summary: "a whole study from one experiment file: merge → generate → judge → per-language report",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: "string" },
        "dry-run": { type: "boolean" },
        "merge-only": { type: "boolean" },
        strict: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
      },
    });
    if (positionals.length !== 1) throw new InputError(`run takes one EXPERIMENT.yml\n\n${HELP}`);
    const { checkWork, loadExperiment, loadExperimentSamples, missingFiles, preflight, renderPreflight, runExperiment } = await import("../experiment/index.ts");
    const { killAllServersNow, stopAllServers } = await import("../serve/server.ts");
    const { createProgress } = await import("./progress.ts");
    const experiment = await loadExperiment(positionals[0]!, { ...(values.out ? { runDir: values.out } : {}), noRequests: values["dry-run"] ?? false });
    const strict = values.strict ?? experiment.spec.strict ?? false;
    if (values["dry-run"]) {
      const missing = missingFiles(experiment);
      if (missing.length) throw new InputError(`cannot start:\n  - ${missing.join("\n  - ")}`);
      const samples = await loadExperimentSamples(experiment);
      const plan = await preflight(experiment, samples);
      const checks = await checkWork(experiment, plan, { dryRun: true });
      if (strict) checks.problems.push(...samples.problems.map((p) => `bad dataset row (strict): ${p}`));
      else checks.warnings.push(...samples.problems.map((p) => `skipped row ${p}`));
      renderPreflight(experiment, plan, checks).forEach((l) => io.out(l));
      return checks.problems.length ? EXIT_BAD_INPUT : 0;
    }
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    // The first Ctrl-C (or SIGTERM) stops the run, servers included, keeping finished work; a second one does not
    // wait: it kills the servers outright and exits.
    const onSignal = (signal: NodeJS.Signals) => {
      if (!controller.signal.aborted) return controller.abort(new Error("interrupted"));
      killAllServersNow();
      process.exit(signal === "SIGTERM" ? 143 : EXIT_INTERRUPTED);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const progress = createProgress({ quiet: values.quiet ?? false, unit: "items", periodicMs: 10_000 });
    try {
      const outcome = await runExperiment(experiment, {
        log: (line) => io.out(line),
        warn: (line) => io.err(`warning: ${line}`),
        signal: controller.signal,
        strict,
        ...(values["merge-only"] ? { mergeOnly: true } : {}),
        onStepStart: (label, total, unit) => progress.start(total, label, unit),
        onStepTick: (amount) => progress.tick(amount, ""),
        onStepEnd: () => progress.stop(),
      });
      return reportOutcome(outcome, io);
    } finally {
      progress.stop();
      // Whatever ended the run, no server it started outlives it.
      await stopAllServers();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};

/** Prints how a run ended and turns it into the exit code. */
export function reportOutcome(outcome: RunOutcome, io: CommandIO): number {
  switch (outcome.status) {
    case "done": {
      io.out(`report: ${outcome.files.filter((f) => f.endsWith(".html")).join(", ")} (and .json, .csv, .md beside it)`);
      outcome.report.notes.slice(0, 1).forEach((n) => io.out(`note: ${n}`));
      return 0;
    }
    case "merged":
      io.out(`merged into: ${outcome.merges.join(", ") || "(no merges)"}`);
      return 0;
    case "incomplete":
      io.err(outcome.message);
      io.out(`report (incomplete): ${outcome.files.filter((f) => f.endsWith(".html")).join(", ")} (and .json, .csv, .md beside it)`);
      return EXIT_CHECK_FAILED;
    case "failed":
      io.err(outcome.message);
      return EXIT_CHECK_FAILED;
    case "budget":
      io.err(outcome.message);
      return EXIT_BUDGET;
    case "interrupted":
      io.err("interrupted: finished work is kept in the run folder; rerun the same command to resume");
      return EXIT_INTERRUPTED;
  }
}
