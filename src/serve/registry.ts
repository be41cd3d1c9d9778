import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive, isRunning, ownIdentity, type ProcessIdentity } from "../util/process.ts";

/**
 * RUN/servers/<id>.pid: each server mergeval started and has not stopped yet, with the process start times of
 * the server and of the mergeval that started it. A mergeval killed outright (kill -9) leaves its servers running
 * and these files behind; the next run in that folder stops those servers before it starts its own.
 */
export interface PidRecord {
  id: string;
  profile: string;
  /** The server, which leads its own process group (its workers are in that group too). */
  server: ProcessIdentity;
  /** The mergeval that started it. */
  owner: ProcessIdentity;
  port: number;
  command: string;
  /** Seconds between SIGTERM and SIGKILL when it is stopped. */
  stopTimeoutS: number;
}

export function serversDir(runDir: string): string {
  return join(runDir, "servers");
}

export function fileStem(id: string): string {
  return id.replace(/[^\w.-]+/g, "_");
}

export function pidFile(runDir: string, id: string): string {
  return join(serversDir(runDir), `${fileStem(id)}.pid`);
}

export function logFile(runDir: string, id: string): string {
  return join(serversDir(runDir), `${fileStem(id)}.log`);
}

export async function writePidRecord(runDir: string, record: PidRecord): Promise<void> {
  await mkdir(serversDir(runDir), { recursive: true });
  await writeFile(pidFile(runDir, record.id), JSON.stringify(record) + "\n");
}

export async function removePidRecord(runDir: string, id: string): Promise<void> {
  await rm(pidFile(runDir, id), { force: true });
}

export async function readPidRecords(runDir: string): Promise<PidRecord[]> {
  const names = await readdir(serversDir(runDir)).catch(() => [] as string[]);
  const records: PidRecord[] = [];
  for (const name of names.filter((n) => n.endsWith(".pid")).sort()) {
    try {
      records.push(JSON.parse(await readFile(join(serversDir(runDir), name), "utf8")) as PidRecord);
    } catch {
      // torn by a kill while it was written: the server, if any, is found by no file; the folder is cleaned
      await rm(join(serversDir(runDir), name), { force: true });
    }
  }
  return records;
}

/** Sends `signal` to a whole process group; false when the group is gone. */
export function signalGroup(leader: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-leader, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** SIGTERM to the group, SIGKILL after `graceS` if any of it is left; resolves once the group is gone (or 5 s after SIGKILL). */
export async function stopGroup(leader: number, graceS: number): Promise<"terminated" | "killed" | "gone"> {
  if (!signalGroup(leader, "SIGTERM")) return "gone";
  if (await groupGone(leader, graceS * 1000)) return "terminated";
  signalGroup(leader, "SIGKILL");
  await groupGone(leader, 5000);
  return "killed";
}

async function groupGone(leader: number, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (signalGroup(leader, 0)) {
    if (Date.now() >= until) return false;
    await sleep(25);
  }
  return true;
}

/**
 * Stops the servers recorded in RUN/servers/ by mergevals that are gone (killed outright), and forgets their
 * files. Servers of a mergeval still running are left alone. A server whose pid now names another process is
 * not touched; one whose leader exited but whose workers still run is stopped by its process group.
 */
export async function cleanStaleServers(runDir: string, log: (line: string) => void): Promise<void> {
  for (const record of await readPidRecords(runDir)) {
    if (record.owner.pid !== process.pid && isAlive(record.owner)) {
      log(`server ${record.id}: left running (pid ${record.server.pid}): the mergeval that started it (pid ${record.owner.pid}) still runs`);
      continue;
    }
    const leader = record.server.pid;
    const ours = isAlive(record.server) || (!isRunning(leader) && signalGroup(leader, 0));
    if (ours) {
      const how = await stopGroup(leader, record.stopTimeoutS);
      if (how !== "gone") log(`server ${record.id}: stopped the server an earlier run left on port ${record.port} (pid ${leader}, ${how === "killed" ? "SIGKILL" : "SIGTERM"})`);
    }
    await removePidRecord(runDir, record.id);
  }
}
