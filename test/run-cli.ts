import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

export const BIN = resolve("bin/mergeval.js");

/** Runs the installed `mergeval` bin as a user would; resolves with the exit code and both streams. */
export async function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], options);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
