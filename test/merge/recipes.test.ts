import { cpSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { FAMILY, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { loadMergeConfig } from "../../src/merge/config.ts";
import { runMerge } from "../../src/merge/index.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import type { Report } from "../../src/report/types.ts";
import { runCli } from "../run-cli.ts";

const recipes = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? recipes(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );

describe("bundled recipes and the demo", () => {
  it.each(recipes("merges"))("%s is a valid merge config", async (file) => {
    const { config } = await loadMergeConfig(file);
    expect(config.merge_method).toBeTruthy();
  });

  it("every merges/example-*.yml merges the fixtures that `mergeval fixtures runs/example/models` writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mergeval-example-"));
    try {
      await writeFixtureFamily(join(dir, "runs/example/models"), FAMILY);
      for (const file of readdirSync("merges").filter((f) => f.startsWith("example-"))) {
        const summary = await runMerge({ configFile: join("merges", file), outDir: join(dir, "out", file), cwd: dir });
        expect((await Checkpoint.open(summary.outDir)).tensors.size).toBe(39);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the README's main command runs the demo experiment offline and writes the report under reports/demo", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mergeval-demo-"));
    try {
      for (const folder of ["experiments", "datasets", "src/fixtures/trained"]) cpSync(resolve(folder), join(dir, folder), { recursive: true });
      const result = await runCli(["run", "experiments/demo.yml", "-q"], { cwd: dir, env: { ...process.env, MERGEVAL_CACHE: join(dir, "cache") } });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(readdirSync(join(dir, "reports/demo")).sort()).toEqual(["charts", "report.csv", "report.html", "report.json", "report.md"]);
      const report = JSON.parse(readFileSync(join(dir, "reports/demo/report.json"), "utf8")) as Report;
      const methods = new Set(Object.values(report.models).map((m) => m.method).filter(Boolean));
      for (const method of ["linear", "slerp", "ties", "dare_ties"]) expect(methods).toContain(method);
      expect(Object.keys(report.models.slerp!.languages)).toEqual(["en", "hi", "fr", "es", "ar", "ru"]);
      // The stand-in eval split: 20 red-team and 20 Dolly prompts per language.
      expect(report.models.slerp!.overall).toMatchObject({ n_redteam: 120, n_general: 120 });
      const html = readFileSync(join(dir, "reports/demo/report.html"), "utf8");
      expect(html).toMatch(/Toy models trained on stand-in data/);
      expect(html).toMatch(/proxy/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
