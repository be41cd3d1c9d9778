export interface CommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** One subcommand: its help text and what it does. Returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run: (argv: string[], io: CommandIO) => Promise<number>;
}
