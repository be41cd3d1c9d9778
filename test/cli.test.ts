import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModels } from "../src/fixtures/tiny-models.ts";
import { main } from "../src/cli.ts";
import { BIN, runCli } from "./run-cli.ts";

const run = (args: string[], cwd: string) => runCli(args, { cwd });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-cli-"));
  await writeTinyModels(join(dir, "models"));
  await writeFile(
    join(dir, "ties.yml"),
    "models:\n  - {model: models/general, parameters: {weight: 1, density: 0.5}}\n  - {model: models/safety, parameters: {weight: 1, density: 0.5}}\nmerge_method: ties\nbase_model: models/base\n",
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("mergeval CLI (the installed bin, as a user runs it)", () => {
  it("prints help for the tool and every command with exit 0", async () => {
    const top = await run(["--help"], dir);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:[\s\S]*merge/);
    for (const command of ["run", "report", "gate", "merge"]) {
      const help = await run([command, "--help"], dir);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`Usage: mergeval ${command}`));
    }
  });

  it("prints the package's version for --version and -v", async () => {
    const { version } = JSON.parse(await readFile("package.json", "utf8")) as { version: string };
    for (const flag of ["--version", "-v"]) expect(await run([flag], dir)).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("loads no command's dependencies for help, version and flag errors (start-up stays fast)", async () => {
    // A loader hook that refuses every package but tsx and its esbuild (the fallback that runs src/ when dist/
    // is stale): a command importing its dependencies statically instead of inside run fails here.
    const hook = `export async function load(url, context, next) {
      if (/\\/node_modules\\/(?!tsx\\/|esbuild\\/)/.test(url)) throw new Error("loaded " + url);
      return next(url, context);
    }`;
    const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    for (const args of [["--help"], ["--version"], ["run", "--help"], ["merge", "ties.yml", "out", "--bogus"], ["gate", "a"]]) {
      const result = await promisify(execFile)(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], { cwd: dir }).catch(
        (err: { code: number; stderr: string }) => err,
      );
      expect(result.stderr, args.join(" ")).not.toMatch(/loaded /);
    }
  });

  it("gives every command's help for --help or -h anywhere in its arguments, before its flags are parsed", async () => {
    const names = ["run", "report", "gate", "merge", "export-onnx", "generate", "judge", "fixtures"];
    for (const name of names) {
      for (const args of [[name, "--help"], [name, "--bogus", "x", "-h"]]) {
        const lines: string[] = [];
        expect(await main(args, { out: (l) => lines.push(l), err: (l) => lines.push(l) })).toBe(0);
        expect(lines.join("\n")).toMatch(new RegExp(`^Usage: mergeval ${name}`));
      }
    }
  });

  it("exits 2 on usage errors and unknown commands", async () => {
    expect((await run(["frobnicate"], dir)).code).toBe(2);
    const missing = await run(["merge", "ties.yml"], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/CONFIG\.yml and OUT_DIR/);
    const badFlag = await run(["merge", "ties.yml", "out", "--bogus"], dir);
    expect(badFlag.code).toBe(2);
    const badSize = await run(["merge", "ties.yml", "out", "--out-shard-size", "lots"], dir);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toMatch(/not a size/);
  });

  it("merges, prints one summary line off a TTY, and exits 0", async () => {
    const result = await run(["merge", "ties.yml", "merged", "--seed", "3", "--out-shard-size", "20KB"], dir);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    expect(result.stdout).toMatch(/merged 39 tensors .* with ties into .*merged/);
    expect(readdirSync(join(dir, "merged"))).toContain("model.safetensors.index.json");
  });

  it("a merge on worker threads runs to completion in a plain Node process (workers keep it alive)", async () => {
    const script = [
      `import { runMerge } from ${JSON.stringify(resolve("src/merge/index.ts"))};`,
      `const s = await runMerge({ configFile: "ties.yml", outDir: "threaded", threads: 2, parallelMinBytes: 0 });`,
      `console.log("done", s.tensors);`,
    ].join("\n");
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    await writeFile(join(dir, "threaded.mts"), script);
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", tsx, "threaded.mts"], { cwd: dir });
    expect(stdout.trim()).toBe("done 39");
    expect(readdirSync(join(dir, "threaded"))).toContain("model.safetensors");
  });

  it.runIf(existsSync(resolve("dist/merge/index.js")))("a merge on worker threads runs from the compiled build (dist/) without tsx", async () => {
    const script = [
      `import { runMerge } from ${JSON.stringify(resolve("dist/merge/index.js"))};`,
      `const s = await runMerge({ configFile: "ties.yml", outDir: "threaded-dist", threads: 2, parallelMinBytes: 0 });`,
      `console.log("done", s.tensors);`,
    ].join("\n");
    await writeFile(join(dir, "threaded-dist.mjs"), script);
    const { stdout } = await promisify(execFile)(process.execPath, ["threaded-dist.mjs"], { cwd: dir });
    expect(stdout.trim()).toBe("done 39");
    expect(readdirSync(join(dir, "threaded-dist"))).toContain("model.safetensors");
  });

  it("exits 2 with the file named on a bad recipe and leaves no output", async () => {
    await writeFile(join(dir, "bad.yml"), "models:\n  - {model: models/nowhere, parameters: {weight: 1}}\nmerge_method: linear\n");
    const result = await run(["merge", "bad.yml", "never"], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/models\/nowhere/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});
