import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: mergeval fixtures OUT_DIR
       mergeval fixtures --train OUT_DIR

Writes the study's model family in miniature as Hugging Face folders (safetensors BF16, config.json, a
byte-level tokenizer covering all six scripts, a chat template).

Without --train: a tiny LLaMA-architecture base and experts derived from it by seeded low-rank weight deltas,
in a second (base, general, safety, mix15, lang-en … lang-ru, and safety-lora/: the safety expert as a rank-2
PEFT adapter on base). Not trained models: for testing pipelines (merge, export, generate), never as results.

With --train: the trained toy family the demo uses (committed in src/fixtures/trained/), reproduced from the
stand-in train splits in datasets/stand-in/: base (text in six languages), general, safety, mix0 (= general),
mix15, mix100 (= safety) and lang-en … lang-ru, trained in TypeScript on both cores, deterministically (the same
bytes on the same machine kind). About 10 minutes on 2 cores.

Options:
  --train      train the family instead of writing the untrained fixtures
  -q, --quiet  no progress bar
  -h, --help   show this help`;

export const fixturesCommand: Command = {
  name: "fixtures",
  summary: "write the model family in miniature: untrained fixtures, or the trained toy family (--train)",
  help: HELP,
  async run(argv, io) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { train: { type: "boolean" }, quiet: { type: "boolean", short: "q" } } });
    if (positionals.length !== 1) throw new InputError(`fixtures takes OUT_DIR\n\n${HELP}`);
    const out = positionals[0]!;
    if (!values.train) {
      const { FAMILY, writeFixtureFamily } = await import("../fixtures/family.ts");
      const dirs = await writeFixtureFamily(out);
      io.out(`wrote ${dirs.length} fixture models under ${out}: ${FAMILY.map((m) => m.name).join(", ")}`);
      return 0;
    }
    const { familyRecipes, trainFamily } = await import("../fixtures/train-family.ts");
    const { loadFamilyData } = await import("../fixtures/family-data.ts");
    const { createProgress } = await import("./progress.ts");
    const totalSteps = familyRecipes(await loadFamilyData()).reduce((sum, r) => sum + r.steps, 0);
    const progress = createProgress({ quiet: values.quiet ?? false, unit: "items", periodicMs: 30_000 });
    const started = performance.now();
    progress.start(totalSteps, "train family (steps)");
    try {
      const members = await trainFamily(out, { log: (line) => io.out(line), onStep: () => progress.tick(1, "") });
      progress.stop();
      io.out(`trained ${members.length} models (+ mix0, mix100) under ${out} in ${((performance.now() - started) / 60_000).toFixed(1)} min`);
      return 0;
    } finally {
      progress.stop();
    }
  },
};
