import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { FAMILY, writeFixtureFamily } from "../fixtures/family.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: mergeval fixtures OUT_DIR

Writes the study's model family in miniature, deterministically, as Hugging Face folders (safetensors BF16,
config.json, a byte-level tokenizer covering all six scripts, a chat template):
  ${FAMILY.map((m) => m.name).join(", ")}
A tiny LLaMA-architecture base and experts derived from it by seeded low-rank weight deltas. They are not
trained models: use them to test pipelines (merge, export, generate), never as results.

Options:
  -h, --help   show this help`;

export const fixturesCommand: Command = {
  name: "fixtures",
  summary: "write the tiny deterministic model family (base, experts, 15% mix, monolingual experts)",
  help: HELP,
  async run(argv, io) {
    const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
    if (positionals.length !== 1) throw new InputError(`fixtures takes OUT_DIR\n\n${HELP}`);
    const dirs = await writeFixtureFamily(positionals[0]!);
    io.out(`wrote ${dirs.length} fixture models under ${positionals[0]}: ${FAMILY.map((m) => m.name).join(", ")}`);
    return 0;
  },
};
