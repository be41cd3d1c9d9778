import { describe, expect, it } from "vitest";
import { loadDataset, STUDY_LANGUAGES, type Sample } from "../../src/datasets/index.ts";

const AYA = "datasets/aya-redteaming-sample.jsonl";
const DOLLY = "datasets/dolly-200-sample.jsonl";
const FIXTURES = "test/datasets/fixtures";

const perLanguage = (samples: Sample[]) => Object.fromEntries(STUDY_LANGUAGES.map((l) => [l, samples.filter((s) => s.language === l).length]));
const languagesOf = (samples: Sample[], sourceId: string) => samples.filter((s) => s.sourceId === sourceId).map((s) => s.language).sort();
const SIX = [...STUDY_LANGUAGES].sort();

describe("bundled Aya Red-teaming sample", () => {
  it("has 3 prompts in each of the six languages, with harm categories parsed to lists", async () => {
    const { samples, problems } = await loadDataset(AYA);
    expect(problems).toEqual([]);
    expect(samples).toHaveLength(18);
    expect(perLanguage(samples)).toEqual({ en: 3, hi: 3, fr: 3, es: 3, ar: 3, ru: 3 });
    expect(samples.every((s) => s.kind === "aya-redteaming" && s.dataset === "aya-redteaming-sample")).toBe(true);
    expect(samples.every((s) => Array.isArray(s.meta.harm_category) && (s.meta.harm_category as unknown[]).length > 0)).toBe(true);
    expect(samples[1]).toMatchObject({ id: "2", language: "en", sourceId: "rt-2", meta: { harm_category: ["Bullying & Harassment", "Profanity"], global_or_local: "global" } });
    expect(samples.map((s) => s.id)).toEqual(samples.map((_, i) => String(i + 1))); // no id field: the line number
    expect(samples.some((s) => s.reference !== undefined)).toBe(false);
  });

  it("shares one source_id across the six translations of each English prompt", async () => {
    const { samples } = await loadDataset(AYA);
    for (const id of ["rt-1", "rt-2", "rt-3"]) expect(languagesOf(samples, id)).toEqual(SIX);
    const translated = samples.filter((s) => s.language !== "en");
    expect(translated.every((s) => s.meta.literal_translation !== "" && s.meta.semantic_translation !== "")).toBe(true);
  });
});

describe("bundled Dolly-200 sample", () => {
  it("has 2 instructions with references in each of the six languages, from ISO 639-3 codes", async () => {
    const { samples, problems } = await loadDataset(DOLLY);
    expect(problems).toEqual([]);
    expect(perLanguage(samples)).toEqual({ en: 2, hi: 2, fr: 2, es: 2, ar: 2, ru: 2 });
    expect(samples.every((s) => s.kind === "dolly-200" && typeof s.reference === "string" && s.reference.length > 0)).toBe(true);
    expect(samples[8]).toMatchObject({ id: "9", sourceId: "101", language: "ar", meta: { script: "Arab" } });
    for (const id of ["101", "102"]) expect(languagesOf(samples, id)).toEqual(SIX);
  });

  it("reads the same samples from its CSV and Parquet copies (INT64 ids become strings)", async () => {
    const { samples } = await loadDataset(DOLLY);
    for (const copy of ["dolly-200-sample.csv", "dolly-200-sample.parquet"]) {
      const loaded = await loadDataset(`${FIXTURES}/${copy}`);
      expect(loaded.problems).toEqual([]);
      expect(loaded.samples).toEqual(samples);
    }
  });

  it("filters by language, in any spelling", async () => {
    for (const file of [DOLLY, `${FIXTURES}/dolly-200-sample.csv`, `${FIXTURES}/dolly-200-sample.parquet`]) {
      const { samples } = await loadDataset(file, { languages: ["en", "arb", "Russian"] });
      expect(samples.map((s) => s.language).sort()).toEqual(["ar", "ar", "en", "en", "ru", "ru"]);
    }
    const { samples } = await loadDataset(AYA, { languages: ["hi"] });
    expect(samples.map((s) => s.sourceId)).toEqual(["rt-1", "rt-2", "rt-3"]);
  });

  it("names samples after the file unless told otherwise, and takes the kind when given", async () => {
    const { samples } = await loadDataset(DOLLY, { name: "dolly-200", kind: "dolly-200" });
    expect(new Set(samples.map((s) => s.dataset))).toEqual(new Set(["dolly-200"]));
  });
});
