import { cpSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { exampleCommand } from "../../src/cli/example-command.ts";
import { loadMergeConfig } from "../../src/merge/config.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";

const recipes = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? recipes(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );

describe("bundled recipes", () => {
  it.each(recipes("merges"))("%s is a valid merge config", async (file) => {
    const { config } = await loadMergeConfig(file);
    expect(config.merge_method).toBeTruthy();
  });

  it("`mergeval example` merges the fixtures with every example recipe, exports them and generates", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mergeval-example-"));
    const cwd = process.cwd();
    try {
      cpSync(resolve("merges"), join(dir, "merges"), { recursive: true });
      cpSync(resolve("datasets"), join(dir, "datasets"), { recursive: true });
      process.chdir(dir);
      const lines: string[] = [];
      expect(await exampleCommand.run([], { out: (l) => lines.push(l), err: (l) => lines.push(l) })).toBe(0);
      const merged = readdirSync(join(dir, "runs/example/merged")).sort();
      expect(merged).toEqual(["example-dare-ties", "example-linear", "example-slerp", "example-ties"]);
      for (const name of merged) {
        const checkpoint = await Checkpoint.open(join(dir, "runs/example/merged", name));
        expect(checkpoint.tensors.size).toBe(39);
        const records = readFileSync(join(dir, "runs/example/generations", `${name}.jsonl`), "utf8").trim().split("\n");
        expect(records).toHaveLength(30); // 18 red-team + 12 Dolly prompts, six languages
        expect(records.every((line) => JSON.parse(line).status === "done")).toBe(true);
      }
    } finally {
      process.chdir(cwd);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
