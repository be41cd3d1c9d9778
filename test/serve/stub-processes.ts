import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** The loopback stub as a served program, the way a profile runs vLLM: `STUB --port {port} --model {model} …`. */
export const STUB = `${process.execPath} ${resolve("bin/stub-server.js")}`;

/** One stub's life as its log tells it (times in ms since the epoch). */
export interface StubLife {
  log: string;
  pid: number;
  port: number;
  gpu: string;
  started: number;
  /** When it was told to stop (SIGTERM), if it was. */
  stopped?: number;
  answered?: number;
}

/** Every log under `dir` (recursively) written by the stub. */
export function stubLives(dir: string): StubLife[] {
  const lives: StubLife[] = [];
  for (const file of filesUnder(dir).filter((f) => f.endsWith(".log"))) {
    const text = readFileSync(file, "utf8");
    const start = /^stub (\d+) pid (\d+) port (\d+) model \S+ gpu (\S+)$/m.exec(text);
    if (!start) continue;
    const term = /^stub (\d+) SIGTERM after (\d+) completions/m.exec(text);
    lives.push({
      log: file, started: Number(start[1]), pid: Number(start[2]), port: Number(start[3]), gpu: start[4]!,
      ...(term ? { stopped: Number(term[1]), answered: Number(term[2]) } : {}),
    });
  }
  return lives;
}

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Whether any process of the group the stub `pid` leads still runs. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The safety net: kills (SIGKILL) every stub started under `dir` that still runs, and returns their pids. */
export function killLeftovers(dir: string): number[] {
  const alive = stubLives(dir).map((l) => l.pid).filter(groupAlive);
  for (const pid of alive) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return alive;
}

/** The most servers alive at once, from their lives (a server counts from its start until it was told to stop). */
export function mostAtOnce(lives: readonly StubLife[]): number {
  const events = lives.flatMap((l) => [{ at: l.started, d: 1 }, { at: l.stopped ?? Infinity, d: -1 }]).sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of events) most = Math.max(most, (now += e.d));
  return most;
}
