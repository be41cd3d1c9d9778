import { readFileSync } from "node:fs";

/**
 * A process as a lock records it: the pid and, where /proc exists (Linux), its start time (clock ticks since
 * boot) and the boot it started in. A pid alone is not enough: after `kill -9` the dead holder can linger as a
 * zombie until its parent reaps it, and a pid is reused by later processes and after a reboot.
 */
export interface ProcessIdentity {
  pid: number;
  start?: number;
  boot?: string;
}

/** This process, as a lock should record it. */
export function ownIdentity(): ProcessIdentity {
  return identityOf(process.pid);
}

/** Any process (e.g. a server this run started), as a lock records it. */
export function identityOf(pid: number): ProcessIdentity {
  return { pid, start: procStat(pid)?.start, boot: bootId() };
}

/** True while the process `holder` describes still runs: not a zombie, not a later process with its pid, not from before a reboot. */
export function isAlive(holder: ProcessIdentity): boolean {
  const { pid } = holder;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const boot = bootId();
  if (holder.boot !== undefined && boot !== undefined && holder.boot !== boot) return false;
  const stat = procStat(pid);
  if (!stat) return signalable(pid); // no /proc (macOS), or it hides other users' processes
  if (stat.state === "Z" || stat.state === "X") return false; // exited, not yet reaped
  return holder.start === undefined || holder.start === stat.start;
}

/** True when a process with this pid runs (a zombie does not count). */
export function isRunning(pid: number): boolean {
  return isAlive({ pid });
}

/** kill(pid, 0): the process exists (EPERM: it exists but belongs to someone else). */
function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 3 (state) and field 22 (starttime) of /proc/<pid>/stat; undefined without /proc or without that process. */
function procStat(pid: number): { state: string; start: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Field 2 is the command name in parentheses, which may itself hold spaces and ')': field 3 follows the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const start = Number(fields[19]);
  return state && Number.isInteger(start) ? { state, start } : undefined;
}

function bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
