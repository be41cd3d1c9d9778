import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { parseByteSize } from "./size.ts";
import type { Command } from "./command.ts";
import { intFlag } from "./flags.ts";

export const MERGE_HELP = `Usage: mergeval merge CONFIG.yml OUT_DIR [options]

Merge Hugging Face safetensors checkpoints as mergekit-yaml does, streaming one tensor at a time.
Model references in CONFIG resolve relative to the working directory, or through the local Hugging Face
cache (org/name[@revision]); nothing is downloaded.

Options:
  --seed N                 seed for the random methods (DARE, DELLA, arcee_fusion sampling; default 0); same seed, same bytes
  --out-shard-size SIZE    max bytes per output shard (default 5B; k/m/b decimal, KiB/MiB/GiB binary)
  --allow-nonfinite        merge inputs holding NaN/Inf instead of failing
  --threads N              worker threads for the math (default 1; helps TIES/DARE on many cores, costs memory)
  --force                  replace a non-empty OUT_DIR (only after the merge succeeds)
  --dry-run                check the recipe against the checkpoints' headers (models, tensors, shapes,
                           parameters), print every parameter's value per model and layers (after gradients
                           and filters) and what would be written; reads no weights, writes nothing
  --strict                 warnings are errors (exit 2): parameters the method does not use, filters that
                           match no tensor, models skipped for a tensor
  -q, --quiet              no progress bar, no summary line
  -h, --help               show this help

Parameter names no merge method reads (a typo such as densty) are errors, with a suggestion.

Exit codes: 0 merged, 2 bad input (config, checkpoint, flags; warnings with --strict).`;

export const mergeCommand: Command = {
  name: "merge",
  summary: "merge checkpoints from a mergekit YAML recipe",
  help: MERGE_HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        seed: { type: "string" },
        "out-shard-size": { type: "string" },
        "allow-nonfinite": { type: "boolean" },
        threads: { type: "string" },
        force: { type: "boolean" },
        "dry-run": { type: "boolean" },
        strict: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
      },
    });
    if (positionals.length !== 2) throw new InputError(`merge takes CONFIG.yml and OUT_DIR (got ${positionals.length} arguments)\n\n${MERGE_HELP}`);
    const { runMerge } = await import("../merge/index.ts");
    const { createProgress } = await import("./progress.ts");
    const [configFile, outDir] = positionals as [string, string];
    const seed = intFlag(values.seed, "--seed", 0) ?? 0;
    const threads = intFlag(values.threads, "--threads", 1);
    const outShardSize = values["out-shard-size"] ? parseByteSize(values["out-shard-size"], "--out-shard-size") : undefined;
    const progress = createProgress({ quiet: values.quiet, unit: "bytes" });
    const started = Date.now();
    try {
      const summary = await runMerge({
        configFile,
        outDir,
        seed,
        outShardSize,
        allowNonfinite: values["allow-nonfinite"],
        threads,
        force: values.force,
        dryRun: values["dry-run"],
        strict: values.strict,
        onWarning: (w) => io.err(`warning: ${w}`),
        onStart: ({ bytes, method }) => progress.start(bytes, method),
        onTensor: ({ name, bytes }) => progress.tick(bytes, name),
      });
      progress.stop();
      if (values["dry-run"]) {
        const { formatParameterRows } = await import("../merge/resolved-params.ts");
        formatParameterRows(summary.parameters ?? []).forEach((line) => io.out(line));
        summary.notes.forEach((note) => io.out(note));
        io.out(
          `ok: ${summary.method} would write ${summary.tensors} tensors (${(summary.bytes / 1e6).toFixed(1)} MB, ` +
            `${summary.shards} shard${summary.shards > 1 ? "s" : ""}) to ${summary.outDir}; ${summary.warnings.length} warning(s)`,
        );
        return 0;
      }
      if (!values.quiet) {
        const seconds = (Date.now() - started) / 1000;
        io.out(
          `merged ${summary.tensors} tensors (${(summary.bytes / 1e6).toFixed(1)} MB, ${summary.shards} shard${summary.shards > 1 ? "s" : ""}) ` +
            `with ${summary.method} into ${summary.outDir} in ${seconds.toFixed(1)} s`,
        );
      }
      return 0;
    } finally {
      progress.stop();
    }
  },
};
