export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * One subcommand: its help text and what it does. Returns the exit code.
 * Every command module is loaded for `mergeval --help`, so it stays light: name, summary and help are plain
 * values, and `run` imports what it needs (`await import(...)`) after parsing its flags.
 */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run: (argv: string[], io: CommandIO) => Promise<number>;
}
