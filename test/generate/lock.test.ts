import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { RecordStore } from "../../src/generate/store.ts";
import { isRunning, ownIdentity } from "../../src/util/process.ts";

const STORE = resolve("src/generate/store.ts");
const hasProc = existsSync("/proc/self/stat");
let dir: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-lock-"));
});
afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** argv of a node process that takes the lock on `file` through the real store, says "locked", then waits. */
function holder(file: string): string[] {
  const script = `const { RecordStore } = await import(${JSON.stringify(STORE)});
await RecordStore.open(${JSON.stringify(file)});
process.stdout.write("locked\\n");
setInterval(() => {}, 60_000);`;
  return [process.execPath, "--import", "tsx", "--input-type=module", "-e", script];
}

/** Starts `argv`, resolving with its first line of output. */
function start(argv: string[]): Promise<{ child: ChildProcess; line: string }> {
  const [cmd = "", ...args] = argv;
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  started.push(child);
  return new Promise((res, rej) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) res({ child, line: out.split("\n")[0] ?? "" });
    });
    child.once("exit", (code) => rej(new Error(`${cmd} exited with ${code} before saying anything`)));
  });
}

// Forks the holder, SIGKILLs it once it has the lock, prints its pid and sleeps without ever reaping it: a zombie.
const ZOMBIE_PARENT = `
import os, signal, sys, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(w, 1)
    os.execv(sys.argv[1], sys.argv[1:])
os.close(w)
os.read(r, 64)
os.kill(pid, signal.SIGKILL)
time.sleep(0.2)
print(pid, flush=True)
time.sleep(60)
`;

const procState = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1)?.split(" ")[0];

describe("the store lock dies with its holder", () => {
  it.runIf(hasProc)("a holder killed with SIGKILL and not yet reaped (a zombie) does not block a resume", async () => {
    const file = join(dir, "zombie.jsonl");
    const { line } = await start(["python3", "-c", ZOMBIE_PARENT, ...holder(file)]);
    const pid = Number(line);
    expect(JSON.parse(await readFile(`${file}.lock`, "utf8"))).toMatchObject({ pid });
    expect(procState(pid)).toBe("Z");
    const { store } = await RecordStore.open(file);
    expect(procState(pid)).toBe("Z"); // still unreaped when the store was opened
    await store.close();
  });

  it("a live holder still blocks, and the message names its pid", async () => {
    const file = join(dir, "live.jsonl");
    const { child } = await start(holder(file));
    const opening = RecordStore.open(file);
    await expect(opening).rejects.toThrow(InputError);
    await expect(opening).rejects.toThrow(`in use by another mergeval run (pid ${child.pid})`);
  });

  it.runIf(hasProc)("a lock naming a live pid with another start time (a reused pid) or from another boot is stale", async () => {
    const file = join(dir, "reused.jsonl");
    const { child } = await start(["sh", "-c", "echo up; exec sleep 60"]);
    const pid = child.pid ?? 0;
    const { start: ownStart, boot } = ownIdentity();
    const live = { pid, start: Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1)?.split(" ")[19]), boot };
    expect(live.start).toBeGreaterThan(0);
    expect(ownStart).toBeGreaterThan(0);

    await writeFile(`${file}.lock`, JSON.stringify(live));
    await expect(RecordStore.open(file)).rejects.toThrow(`(pid ${pid})`); // the real identity blocks

    for (const stale of [{ ...live, start: live.start - 1 }, { ...live, boot: "00000000-0000-0000-0000-000000000000" }]) {
      await writeFile(`${file}.lock`, JSON.stringify(stale));
      const { store } = await RecordStore.open(file);
      expect(JSON.parse(await readFile(`${file}.lock`, "utf8"))).toMatchObject({ pid: process.pid });
      await store.close();
    }
  });

  it.runIf(hasProc)("a command name with spaces and parentheses does not confuse the /proc/<pid>/stat parse", async () => {
    const rename = "open('/proc/self/comm', 'w').write('x) Z 1 (y'); print('up', flush=True); import time; time.sleep(60)";
    const { child } = await start(["python3", "-c", rename]);
    expect(readFileSync(`/proc/${child.pid}/stat`, "utf8")).toMatch(/\(x\) Z 1 \(y\) [RS] /);
    expect(isRunning(child.pid ?? 0)).toBe(true);
  });
});
