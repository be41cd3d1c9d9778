import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerProfile } from "../../src/serve/profile.ts";
import { cleanStaleServers, logFile, pidFile, writePidRecord } from "../../src/serve/registry.ts";
import { ServerError, ServerProcess } from "../../src/serve/server.ts";
import { identityOf, isAlive } from "../../src/util/process.ts";
import { groupAlive, killLeftovers, STUB } from "./stub-processes.ts";

let runDir: string;
beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), "mergeval-server-"));
});
afterAll(async () => {
  const leftovers = killLeftovers(runDir);
  await rm(runDir, { recursive: true, force: true });
  expect(leftovers).toEqual([]);
});

const profile = (flags = "", over: Partial<ServerProfile> = {}): ServerProfile => ({
  name: "stub", command: `${STUB} --port {port} --model {model} ${flags}`, ready: "/v1/models",
  startupTimeoutS: 20, stopTimeoutS: 5, parallel: 1, gpusPerServer: 1, env: {}, ...over,
});
const start = (id: string, p: ServerProfile, slot = 0) => ServerProcess.start({ id, profile: p, path: "w/x", model: id }, { runDir, slot, log: () => {} });

describe("ServerProcess", () => {
  it("starts on a free port with its slot's GPU, is ready once it lists the model, answers, and stops with its whole group", async () => {
    const server = await start("one", profile(), 2);
    await server.ready();
    const reply = await fetch(`${server.baseUrl}/chat/completions`, { method: "POST", body: JSON.stringify({ model: "one", messages: [{ role: "user", content: "hi" }] }) });
    expect(((await reply.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("one: hi");
    const record = JSON.parse(await readFile(pidFile(runDir, "one"), "utf8")) as { server: { pid: number }; port: number; command: string };
    expect(record).toMatchObject({ server: { pid: server.pid }, port: server.port, command: `${STUB} --port ${server.port} --model one` });
    await server.stop();
    expect(server.ending).toBe("exited with code 0");
    expect(groupAlive(server.pid)).toBe(false);
    expect(existsSync(pidFile(runDir, "one"))).toBe(false);
    const log = await readFile(logFile(runDir, "one"), "utf8");
    expect(log).toMatch(/^# mergeval \S+: one \(profile stub, gpu 2\): /);
    expect(log).toMatch(/gpu 2$/m);
  });

  it("kills a server that ignores SIGTERM once stop_timeout_s has passed", async () => {
    const server = await start("stubborn", profile("--ignore-sigterm", { stopTimeoutS: 0.3 }));
    await server.ready();
    const since = Date.now();
    await server.stop();
    expect(server.ending).toBe("was killed by SIGKILL");
    expect(Date.now() - since).toBeGreaterThanOrEqual(250);
    expect(groupAlive(server.pid)).toBe(false);
  });

  it("says a program that is not there is not found", async () => {
    const error = await start("ghost", profile("", { command: "/nonexistent/vllm serve {path} --port {port}" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as Error).message).toBe("server for ghost (profile stub) could not start: /nonexistent/vllm: not found (is it installed, and on PATH?)");
  });
});

describe("cleanStaleServers", () => {
  /** A stub started outside mergeval, in its own group, as a killed mergeval leaves its servers. */
  const orphan = (model: string) => {
    const child = spawn(process.execPath, [...STUB.split(" ").slice(1), "--port", "0", "--model", model], { detached: true, stdio: "ignore" });
    child.unref();
    return child.pid!;
  };

  it("stops the servers of a mergeval that is gone and forgets them; leaves a live mergeval's alone", async () => {
    const stale = orphan("stale");
    const kept = orphan("kept");
    const record = (id: string, pid: number, owner: { pid: number }) => writePidRecord(runDir, { id, profile: "stub", server: identityOf(pid), owner, port: 1, command: "stub", stopTimeoutS: 2 });
    await record("stale", stale, { pid: 999_999_999 });
    await record("kept", kept, identityOf(process.ppid));
    const lines: string[] = [];
    try {
      await cleanStaleServers(runDir, (l) => lines.push(l));
      expect(lines).toEqual([
        `server kept: left running (pid ${kept}): the mergeval that started it (pid ${process.ppid}) still runs`,
        `server stale: stopped the server an earlier run left on port 1 (pid ${stale}, SIGTERM)`,
      ]);
      expect(isAlive(identityOf(stale))).toBe(false);
      expect(groupAlive(stale)).toBe(false);
      expect(existsSync(pidFile(runDir, "stale"))).toBe(false);
      expect(groupAlive(kept)).toBe(true);
      expect(existsSync(pidFile(runDir, "kept"))).toBe(true);
    } finally {
      for (const pid of [stale, kept]) if (groupAlive(pid)) process.kill(-pid, "SIGKILL");
    }
  });
});
