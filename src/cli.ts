import { readFileSync } from "node:fs";
import { errorMessage, EXIT_BAD_INPUT, InputError } from "./errors.ts";
import type { Command, CommandIO } from "./cli/command.ts";
import { exportCommand } from "./cli/export-command.ts";
import { fixturesCommand } from "./cli/fixtures-command.ts";
import { gateCommand } from "./cli/gate-command.ts";
import { generateCommand } from "./cli/generate-command.ts";
import { judgeCommand } from "./cli/judge-command.ts";
import { mergeCommand } from "./cli/merge-command.ts";
import { reportCommand } from "./cli/report-command.ts";
import { runCommand } from "./cli/run-command.ts";

const COMMANDS: readonly Command[] = [runCommand, reportCommand, gateCommand, mergeCommand, exportCommand, generateCommand, judgeCommand, fixturesCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: mergeval <command> [options]",
    "",
    "Mix data or merge models? Merge, generate, judge and report per language.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `mergeval <command> --help` for a command's options, `mergeval --version` for the version.",
    "Exit codes: 0 ok, 1 a check failed, 2 bad input or usage.",
  ].join("\n");
}

/** package.json is one folder up from src/cli.ts and from its build, dist/cli.js. */
function version(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

const stdio: CommandIO = { out: (line) => console.log(line), err: (line) => console.error(line) };

export async function main(argv: string[], io: CommandIO = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return name === undefined ? EXIT_BAD_INPUT : 0;
  }
  if (name === "--version" || name === "-v") {
    io.out(version());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`mergeval: unknown command "${name}"\n\n${usage()}`);
    return EXIT_BAD_INPUT;
  }
  // Every command's help is its `help` text: asked for anywhere before a `--`, it is all that runs.
  const flags = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (flags.includes("--help") || flags.includes("-h")) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof InputError || isArgError(err)) {
      io.err(`mergeval ${name}: ${errorMessage(err)}`);
      return EXIT_BAD_INPUT;
    }
    throw err;
  }
}

/** node:util parseArgs rejects unknown or malformed flags with these codes. */
function isArgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
