import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chrfJudge } from "../../src/judge/chrf.ts";
import { refusalJudge } from "../../src/judge/refusal.ts";
import { runJudge } from "../../src/judge/run.ts";
import type { HarmJudge } from "../../src/judge/types.ts";
import { runCli } from "../run-cli.ts";

let run: string;
const record = (model: string, kind: string, language: string, id: string, output: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ key: `${model}-${kind}-${language}-${id}`, status: "done", model, kind, dataset: kind, language, id, sourceId: id, prompt: `prompt ${id}`, output, ...extra });

beforeAll(async () => {
  run = await mkdtemp(join(tmpdir(), "mergeval-judge-"));
  await mkdir(join(run, "generations"));
  const lines = (model: string, refusals: number) => [
    ...Array.from({ length: 4 }, (_, i) => record(model, "aya-redteaming", "en", String(i), i < refusals ? "I'm sorry, I can't." : "Sure, here it is.")),
    ...Array.from({ length: 4 }, (_, i) => record(model, "aya-redteaming", "fr", String(i), i < refusals ? "Désolé, mais je ne peux pas." : "Voici.")),
    record(model, "dolly-200", "en", "d1", model === "merge" ? "Air scatters blue light." : "No idea.", { reference: "Air scatters blue light most." }),
    record(model, "dolly-200", "en", "d2", "Same answer.", { reference: "Same answer." }),
  ];
  await writeFile(join(run, "generations", "base.jsonl"), lines("base", 0).join("\n") + "\n");
  await writeFile(join(run, "generations", "merge.jsonl"), lines("merge", 3).join("\n") + "\n");
});
afterAll(async () => {
  await rm(run, { recursive: true, force: true });
});

describe("judging a run folder", () => {
  it("scores harm per model and language with the paper's change vs the base, and caches judgments", async () => {
    const first = await runJudge({ runDir: run, judge: refusalJudge, baseline: "base" });
    // Prompt 3's "Sure, here it is." is the same content for both models: judged once, while in flight.
    expect(first).toMatchObject({ judged: 14, reused: 2, cached: 0, errors: 0 });
    const merge = first.scores.find((s) => s.model === "merge" && s.language === "en")!;
    expect(merge.n).toBe(4);
    expect(merge.rate.estimate).toBe(0.25); // 1 of 4 completions does not refuse
    expect(merge.relativeChange!.estimate).toBeCloseTo(-75); // 100·(0.25 − 1)/1
    expect(first.scores.find((s) => s.model === "base" && s.language === "fr")!.rate.estimate).toBe(1);
    const again = await runJudge({ runDir: run, judge: refusalJudge, baseline: "base" });
    expect(again).toMatchObject({ judged: 0, cached: 16 });
    expect(again.scores).toEqual(first.scores);
  });

  it("compares general completions with the baseline's for the same prompt (ties ½)", async () => {
    const { scores } = await runJudge({ runDir: run, judge: chrfJudge, baseline: "base" });
    expect(scores.map((x) => x.language)).toEqual(["en", "all"]);
    expect(scores[0]).toMatchObject({ model: "merge", language: "en", n: 2 });
    expect(scores[0]!.rate.estimate).toBe(0.75); // one win, one tie
  });

  it("aggregates over languages and compares every model with the data-mix model in the paper's metric", async () => {
    const withMix = join(run, "..", `${basename(run)}-mix`);
    await cp(run, withMix, { recursive: true });
    await rm(join(withMix, "judgments"), { recursive: true, force: true });
    const mixLines = [
      ...Array.from({ length: 4 }, (_, i) => record("mix", "aya-redteaming", "en", String(i), i < 2 ? "I'm sorry, I can't." : "Sure.")),
      ...Array.from({ length: 4 }, (_, i) => record("mix", "aya-redteaming", "fr", String(i), i < 2 ? "Désolé, mais je ne peux pas." : "Voici.")),
    ];
    await writeFile(join(withMix, "generations", "mix.jsonl"), mixLines.join("\n") + "\n");
    try {
      const { scores } = await runJudge({ runDir: withMix, judge: refusalJudge, baseline: "base", mix: "mix" });
      const merge = (language: string) => scores.find((x) => x.model === "merge" && x.language === language)!;
      expect(merge("all")).toMatchObject({ n: 8 });
      expect(merge("all").rate.estimate).toBe(0.25);
      expect(merge("en").relativeChange!.estimate).toBeCloseTo(-75);
      expect(merge("en").vsMix!.estimate).toBeCloseTo(25); // −75 vs the mix's −50: 25 points more harm reduction (positive = safer)
      expect(scores.find((x) => x.model === "mix" && x.language === "en")!.vsMix).toBeUndefined();
    } finally {
      await rm(withMix, { recursive: true, force: true });
    }
  });

  it("the CLI table has every column on every row, one unit per column, and --json writes full precision", async () => {
    const withMix = join(run, "..", `${basename(run)}-cli`);
    await cp(run, withMix, { recursive: true });
    await writeFile(join(withMix, "generations", "mix.jsonl"), Array.from({ length: 4 }, (_, i) => record("mix", "aya-redteaming", "en", String(i), i < 2 ? "I'm sorry, I can't." : "Sure.")).join("\n") + "\n");
    try {
      const json = join(withMix, "scores.json");
      const result = await runCli(["judge", withMix, "--judge", "refusal", "--baseline", "base", "--mix", "mix", "--json", json, "-q"]);
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split("\n").filter((l) => l.includes("\t"));
      const header = lines[0]!.split("\t");
      expect(header).toEqual(["model", "language", "n", "harmful rate (%)", "harm change vs base (%)", "harm reduction vs mix (pts of harm change)", "unparsable", "in prompt language (%)"]);
      for (const line of lines.slice(1)) expect(line.split("\t")).toHaveLength(header.length);
      const base = lines.find((l) => l.startsWith("base\ten\t"))!.split("\t");
      expect(base[4]).toBe(""); // the base has no change vs itself …
      expect(base[5]).toBe(""); // … and no harm-change delta vs the mix (its harmful-rate difference would be another unit)
      expect(base[3]).not.toMatch(/within noise/); // rates are not differences
      const scores = JSON.parse(await readFile(json, "utf8")) as { scores: { model: string; language: string; harmful_rate: { value: number; ci: number[] }; harm_reduction_pts_vs_mix: { value: number; p: number } | null }[] };
      const merge = scores.scores.find((s) => s.model === "merge" && s.language === "en")!;
      expect(merge.harmful_rate.value).toBe(25);
      expect(merge.harm_reduction_pts_vs_mix!.value).toBeCloseTo(25);
      expect(merge.harm_reduction_pts_vs_mix!.p).toBeGreaterThan(0);
    } finally {
      await rm(withMix, { recursive: true, force: true });
    }
  });

  it("counts unparsable verdicts apart, never as safe", async () => {
    const flaky: HarmJudge = { ...refusalJudge, name: "flaky", async judge({ response }) {
      return response.startsWith("Sure") ? { harmful: undefined } : refusalJudge.judge({ prompt: "", response, language: "en" });
    } };
    const { scores } = await runJudge({ runDir: run, judge: flaky });
    const merge = scores.find((s) => s.model === "merge" && s.language === "en")!;
    expect(merge).toMatchObject({ n: 3, unparsable: 1 });
    expect(merge.rate.estimate).toBe(0);
    const lines = (await readFile(join(run, "judgments", "flaky.jsonl"), "utf8")).trim().split("\n");
    // 4 from the base; the merge's one "Sure" completion is the base's prompt-3 content, judged once.
    expect(lines.filter((l) => JSON.parse(l).unparsable)).toHaveLength(4);
  });

  it("the CLI prints the table, says when a judge is a proxy, and rejects bad input", async () => {
    const ok = await runCli(["judge", run, "--judge", "refusal", "--baseline", "base"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/note: refusal-string matching: a weak proxy/);
    expect(ok.stdout).toMatch(/merge\ten\t4\t25\.0 \[/);
    expect((await runCli(["judge", run, "--judge", "nope"])).code).toBe(2);
    expect((await runCli(["judge", run, "--judge", "chrf"])).stderr).toMatch(/--baseline/);
    expect((await runCli(["judge", run, "--judge", "refusal", "--baseline", "ghost"])).stderr).toMatch(/ghost/);
  });
});
