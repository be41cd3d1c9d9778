import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import type { Command } from "./command.ts";
import { reportOutcome } from "./run-command.ts";

const HELP = `Usage: mergeval report RUN_DIR

Rebuilds RUN_DIR/report/ (report.json, .csv, .md, .html; and the experiment's report_dir:) from what the run
folder holds: the experiment file \`mergeval run\` saved there, its generations and its judgments. Nothing is
merged, generated or judged; a run folder with missing work is an error (finish it with \`mergeval run\`).
Run it from the folder the experiment was run from (its paths are relative to it).

Options:
  -h, --help   show this help

Exit codes: 0 report written; 1 the run folder is incomplete; 2 bad input.`;

export const reportCommand: Command = {
  name: "report",
  summary: "rebuild a run folder's report (JSON, CSV, Markdown, HTML with charts) from its cached results",
  help: HELP,
  async run(argv, io) {
    const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
    if (positionals.length !== 1) throw new InputError(`report takes RUN_DIR\n\n${HELP}`);
    const runDir = positionals[0]!;
    const file = join(runDir, "experiment.yml");
    if (!existsSync(file)) throw new InputError(`${runDir}: no experiment.yml (is this a folder \`mergeval run\` wrote?)`);
    const { loadExperiment, runExperiment } = await import("../experiment/index.ts");
    const experiment = await loadExperiment(file, { runDir, noRequests: true });
    return reportOutcome(await runExperiment(experiment, { log: () => {}, warn: (line) => io.err(`warning: ${line}`), reportOnly: true }), io);
  },
};
