import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { getUrl } from "../util/http-client.ts";
import { baseUrlOf, commandWords, gpusOf, lastLines, readiness, serverEnv, showCommand, type ServeSpec } from "./profile.ts";
import { identityOf, ownIdentity } from "../util/process.ts";
import { logFile, removePidRecord, serversDir, signalGroup, stopGroup, writePidRecord } from "./registry.ts";

/** A server that could not be used: the message names the model, how it ended and the last lines of its log. */
export class ServerError extends Error {
  override readonly name = "ServerError";
}

export interface StartOptions {
  runDir: string;
  /** Which of the profile's `parallel` slots it takes: its {gpu}. */
  slot: number;
  log: (line: string) => void;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** Servers of this process not stopped yet: stopped together on Ctrl-C, killed outright if mergeval exits first. */
const running = new Set<ServerProcess>();
const portsInUse = new Set<number>();

/**
 * One inference server in its own process group, logging to RUN/servers/<id>.log: started on a free port, polled
 * until ready, stopped with SIGTERM then SIGKILL (the whole group, so a server's workers go with it).
 */
export class ServerProcess {
  private exit: Exit | undefined;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  /** Resolves when the server's leading process exits (whoever stopped it). */
  readonly exited: Promise<Exit>;

  private constructor(
    readonly spec: ServeSpec,
    readonly port: number,
    readonly command: string,
    readonly logPath: string,
    private readonly child: ChildProcess & { pid: number },
    private readonly runDir: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get baseUrl(): string {
    return baseUrlOf(this.port);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** How it ended, when it has: "exited with code 1", "was killed by SIGKILL". */
  get ending(): string | undefined {
    if (!this.exit) return undefined;
    return this.exit.code !== null ? `exited with code ${this.exit.code}` : `was killed by ${this.exit.signal ?? "a signal"}`;
  }

  /** Starts the server (nothing waits for it to be ready: see `ready`). */
  static async start(spec: ServeSpec, options: StartOptions): Promise<ServerProcess> {
    const port = await freePort();
    const gpu = gpusOf(spec.profile, options.slot);
    const values = { path: spec.path, port: String(port), model: spec.model, gpu };
    const words = commandWords(spec.profile, values);
    const command = showCommand(words);
    await mkdir(serversDir(options.runDir), { recursive: true });
    const logPath = logFile(options.runDir, spec.id);
    const fd = openSync(logPath, "w");
    writeSync(fd, `# mergeval ${new Date().toISOString()}: ${spec.id} (profile ${spec.profile.name}${spec.profile.gpusPerServer ? `, gpu ${gpu}` : ""}): ${command}\n`);
    let child: ChildProcess;
    try {
      // detached: the server leads a new process group (and session), which stop() signals as a whole.
      child = spawn(words[0]!, words.slice(1), { detached: true, stdio: ["ignore", fd, fd], env: { ...process.env, ...serverEnv(spec.profile, values) } });
    } finally {
      closeSync(fd);
    }
    const pid = await spawned(child);
    if (typeof pid !== "number") {
      portsInUse.delete(port);
      throw new ServerError(`server for ${spec.id} (profile ${spec.profile.name}) could not start: ${words[0]}: ${pid.code === "ENOENT" ? "not found (is it installed, and on PATH?)" : pid.message}`);
    }
    const server = new ServerProcess(spec, port, command, logPath, child as ChildProcess & { pid: number }, options.runDir);
    running.add(server);
    installExitGuard();
    await writePidRecord(options.runDir, {
      id: spec.id, profile: spec.profile.name, server: identityOf(pid), owner: ownIdentity(), port, command, stopTimeoutS: spec.profile.stopTimeoutS,
    });
    options.log(`server ${spec.id}: starting on port ${port}${spec.profile.gpusPerServer ? ` (gpu ${gpu})` : ""}: ${command}`);
    return server;
  }

  /**
   * Polls the profile's ready path until the server lists the model. A server that exits first, or is not ready
   * within startup_timeout_s (then stopped), is a ServerError naming the model, how it ended and its log's tail.
   */
  async ready(signal?: AbortSignal): Promise<void> {
    const { profile } = this.spec;
    const url = new URL(profile.ready, `http://127.0.0.1:${this.port}`);
    const deadline = this.startedAt + profile.startupTimeoutS * 1000;
    let why = "no answer yet";
    for (;;) {
      signal?.throwIfAborted();
      if (this.exit) throw await this.failure(`${this.ending} before it was ready`);
      if (Date.now() >= deadline) {
        await this.stop();
        throw await this.failure(`was not ready within ${profile.startupTimeoutS} s (GET ${profile.ready}: ${why}); stopped it`);
      }
      try {
        const reply = await getUrl(url, {}, AbortSignal.any([AbortSignal.timeout(Math.max(100, Math.min(5000, deadline - Date.now()))), ...(signal ? [signal] : [])]));
        const state = readiness(reply.status, reply.body, this.spec.model);
        if (state.ready) return;
        why = state.why;
      } catch (err) {
        const { code, name } = err as { code?: string; name?: string };
        why = name === "TimeoutError" ? "no answer" : (code ?? (err as Error).message);
      }
      // Every 0.1 s at first (a small server is up in a second), every second after ~9 s (vLLM takes minutes).
      const wait = Math.min(1000, 100 + (Date.now() - this.startedAt) / 10);
      await Promise.race([sleepUnlessAborted(Math.min(wait, Math.max(0, deadline - Date.now())), signal), this.exited]);
    }
  }

  /** A ServerError for this server: what happened, then the last lines of its log. */
  async failure(what: string, lines = 10): Promise<ServerError> {
    const text = await readFile(this.logPath, "utf8").catch(() => "");
    const tail = lastLines(text, lines + 1).filter((l) => !l.startsWith("# mergeval ")).slice(-lines);
    const shown = tail.length ? `; last lines of ${this.logPath}:\n${tail.map((l) => `    | ${l}`).join("\n")}` : ` (${this.logPath} is empty)`;
    return new ServerError(`server for ${this.spec.id} (profile ${this.spec.profile.name}, port ${this.port}) ${what}${shown}`);
  }

  /** SIGTERM to its process group, SIGKILL after stop_timeout_s; forgets its pid file. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await stopGroup(this.pid, this.spec.profile.stopTimeoutS);
      await this.exited;
      running.delete(this);
      portsInUse.delete(this.port);
      await removePidRecord(this.runDir, this.spec.id);
    })();
    return this.stopping;
  }

  /** Once stop() has been called (an exit after that is no failure). */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** Kills the group at once (mergeval is exiting and cannot wait). */
  killNow(): void {
    signalGroup(this.pid, "SIGKILL");
  }
}

/** Stops every server this process started and has not stopped: on Ctrl-C, whatever was running. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

/** SIGKILLs every server still running, synchronously: for a second Ctrl-C and for exits that cannot wait. */
export function killAllServersNow(): void {
  for (const server of running) server.killNow();
}

let guarded = false;
function installExitGuard(): void {
  if (guarded) return;
  guarded = true;
  process.once("exit", killAllServersNow);
}

/** The pid once the process runs, or the spawn error (a program not found). */
function spawned(child: ChildProcess): Promise<number | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    if (child.pid !== undefined) return resolve(child.pid);
    child.once("spawn", () => resolve(child.pid!));
    child.once("error", (err) => resolve(err as NodeJS.ErrnoException));
  });
}

/** A port free on loopback now, not handed to another server of this process. */
async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!portsInUse.has(port)) {
      portsInUse.add(port);
      return port;
    }
  }
}

function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
