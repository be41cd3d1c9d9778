import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { FAMILY, writeFixtureFamily } from "../fixtures/family.ts";
import { runMerge } from "../merge/index.ts";
import type { Command } from "./command.ts";

const EXAMPLE_ROOT = "runs/example";
const HELP = `Usage: mergeval example

The bundled offline default: writes three tiny deterministic LLaMA-architecture checkpoints from the fixture
family (a base, a general expert and a safety expert, as in "Mix Data or Merge Models?"; see
\`mergeval fixtures\`) under ${EXAMPLE_ROOT}/models, then merges them with every merges/example-*.yml recipe into
${EXAMPLE_ROOT}/merged/<recipe>. Run it from the repository root.

Options:
  -h, --help   show this help`;

export const exampleCommand: Command = {
  name: "example",
  summary: "merge tiny bundled checkpoints with the example recipes (offline)",
  help: HELP,
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } } });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    await writeFixtureFamily(join(EXAMPLE_ROOT, "models"), FAMILY.filter((m) => ["base", "general", "safety"].includes(m.name)));
    io.out(`wrote tiny fixture checkpoints (not trained models) to ${EXAMPLE_ROOT}/models/{base,general,safety}`);
    const recipes = readdirSync("merges").filter((f) => /^example-.*\.ya?ml$/.test(f)).sort();
    for (const recipe of recipes) {
      const name = basename(recipe).replace(/\.ya?ml$/, "");
      const started = Date.now();
      const summary = await runMerge({ configFile: join("merges", recipe), outDir: join(EXAMPLE_ROOT, "merged", name), force: true });
      io.out(`${name}: ${summary.method}, ${summary.tensors} tensors → ${summary.outDir} (${Date.now() - started} ms)`);
    }
    return 0;
  },
};
