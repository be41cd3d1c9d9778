import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { FAMILY, writeFixtureFamily } from "../fixtures/family.ts";
import { loadDataset, type Sample } from "../datasets/index.ts";
import { generate } from "../generate/index.ts";
import { runMerge } from "../merge/index.ts";
import { exportOnnx } from "../models/export.ts";
import type { Command } from "./command.ts";

const EXAMPLE_ROOT = "runs/example";
const HELP = `Usage: mergeval example

The bundled offline default: writes three tiny deterministic LLaMA-architecture checkpoints from the fixture
family (a base, a general expert and a safety expert, as in "Mix Data or Merge Models?"; see
\`mergeval fixtures\`) under ${EXAMPLE_ROOT}/models, merges them with every merges/example-*.yml recipe into
${EXAMPLE_ROOT}/merged/<recipe>, exports each merge to ONNX and generates on the bundled red-team and Dolly
samples (all six languages) into ${EXAMPLE_ROOT}/generations/. Everything is cached: a rerun is instant.
Run it from the repository root. The models are fixtures, not trained: their outputs are meaningless text.

Options:
  -h, --help   show this help`;

export const exampleCommand: Command = {
  name: "example",
  summary: "offline demo: tiny fixture models → merge (example recipes) → export ONNX → generate per language",
  help: HELP,
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } } });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    await writeFixtureFamily(join(EXAMPLE_ROOT, "models"), FAMILY.filter((m) => ["base", "general", "safety"].includes(m.name)));
    io.out(`wrote tiny fixture checkpoints (not trained models) to ${EXAMPLE_ROOT}/models/{base,general,safety}`);
    const samples: Sample[] = [];
    for (const file of ["datasets/aya-redteaming-sample.jsonl", "datasets/dolly-200-sample.jsonl"]) samples.push(...(await loadDataset(file, { strict: true })).samples);
    const recipes = readdirSync("merges").filter((f) => /^example-.*\.ya?ml$/.test(f)).sort();
    for (const recipe of recipes) {
      const name = basename(recipe).replace(/\.ya?ml$/, "");
      const started = Date.now();
      const summary = await runMerge({ configFile: join("merges", recipe), outDir: join(EXAMPLE_ROOT, "merged", name), force: true });
      await exportOnnx(summary.outDir);
      const result = await generate({
        runDir: EXAMPLE_ROOT,
        model: name,
        backend: { kind: "onnx", dir: summary.outDir },
        samples,
        decoding: { maxTokens: 24, temperature: 0 },
        concurrency: 2,
      });
      io.out(
        `${name}: ${summary.method} merge of ${summary.tensors} tensors, exported to ONNX, ` +
          `${result.done + result.cached} generations (${result.cached} cached) → ${result.file} (${Date.now() - started} ms)`,
      );
    }
    return 0;
  },
};
