import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset, STUDY_LANGUAGES, toLanguageId } from "../../src/datasets/index.ts";
import { expectInputError } from "../expect-input-error.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-datasets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const countBy = (xs: string[]) => Object.fromEntries(STUDY_LANGUAGES.map((l) => [l, xs.filter((x) => x === l).length]));

describe("bundled samples", () => {
  it("Aya Red-teaming: six languages, parsed harm categories, one source_id per translated prompt", async () => {
    const { samples, problems } = await loadDataset("datasets/aya-redteaming-sample.jsonl");
    expect(problems).toEqual([]);
    expect(countBy(samples.map((s) => s.language))).toEqual({ en: 3, hi: 3, fr: 3, es: 3, ar: 3, ru: 3 });
    expect(samples.every((s) => s.kind === "aya-redteaming" && Array.isArray(s.meta.harm_category))).toBe(true);
    expect(samples[1]!.meta.harm_category).toEqual(["Bullying & Harassment", "Profanity"]);
    const rt2 = samples.filter((s) => s.sourceId === "rt-2");
    expect(new Set(rt2.map((s) => s.language)).size).toBe(6);
  });

  it("Dolly-200: six languages from ISO 639-3 codes, references, shared source ids", async () => {
    const { samples, problems } = await loadDataset("datasets/dolly-200-sample.jsonl", { languages: ["en", "arb"] });
    expect(problems).toEqual([]);
    expect(samples.map((s) => s.language).sort()).toEqual(["ar", "ar", "en", "en"]);
    expect(samples.every((s) => s.kind === "dolly-200" && s.reference)).toBe(true);
    expect(samples.filter((s) => s.sourceId === "101")).toHaveLength(2);
  });
});

describe("language ids", () => {
  it.each([
    ["English", "en"], ["english", "en"], ["eng", "en"], ["en", "en"], ["arb", "ar"], ["arb_Arab", "ar"], ["Arabic", "ar"],
    ["hin", "hi"], ["fra", "fr"], ["spa", "es"], ["rus", "ru"], ["Filipino", "tl"], ["srp", "sr"], ["Klingon", undefined],
  ])("%s → %s", (spelling, id) => {
    expect(toLanguageId(spelling)).toBe(id);
  });
});

describe("bad rows", () => {
  it("are reported with file and line and skipped; --strict makes the first fatal", async () => {
    const file = join(dir, "bad.jsonl");
    await writeFile(
      file,
      [
        JSON.stringify({ prompt: "ok", language: "English", harm_category: '["Profanity"]' }),
        "{not json",
        JSON.stringify({ prompt: "", language: "English", harm_category: "[]" }),
        JSON.stringify({ prompt: "x", language: "Klingon", harm_category: "[]" }),
        JSON.stringify({ prompt: "y", language: "French", harm_category: "Profanity" }),
        JSON.stringify({ prompt: "z", language: "French", harm_category: "['Hate Speech']" }),
      ].join("\n"),
    );
    const { samples, problems } = await loadDataset(file);
    expect(samples.map((s) => s.prompt)).toEqual(["ok", "z"]);
    expect(samples[1]!.meta.harm_category).toEqual(["Hate Speech"]);
    expect(problems.map((p) => [p.line, p.message.split(" ")[0]])).toEqual([
      [2, "invalid"],
      [3, "missing"],
      [4, "unknown"],
      [5, "harm_category"],
    ]);
    expect(problems.every((p) => p.file === file)).toBe(true);
    await expectInputError(loadDataset(file, { strict: true }), `${file}:2:`);
  });

  it("reads Dolly-200 from Parquet, the published format (int64 ids become strings)", async () => {
    const file = join(dir, "dolly.parquet");
    await parquetWriteFile({
      filename: file,
      columnData: [
        { name: "id", data: [1n, 2n, 3n], type: "INT64" },
        { name: "inputs", data: ["¿Por qué el cielo es azul?", "Почему небо голубое?", ""], type: "STRING" },
        { name: "targets", data: ["Por la dispersión.", "Из-за рассеяния.", "x"], type: "STRING" },
        { name: "language", data: ["spa", "rus", "fra"], type: "STRING" },
        { name: "script", data: ["Latn", "Cyrl", "Latn"], type: "STRING" },
        { name: "source_id", data: [102n, 102n, 103n], type: "INT64" },
      ],
    });
    const { samples, problems } = await loadDataset(file);
    expect(samples).toMatchObject([
      { id: "1", language: "es", sourceId: "102", prompt: "¿Por qué el cielo es azul?", reference: "Por la dispersión." },
      { id: "2", language: "ru", sourceId: "102" },
    ]);
    expect(problems).toEqual([{ file, line: 3, message: "missing inputs (the prompt)" }]);
  });

  it("CSV rows carry their line numbers; unknown formats and missing files are input errors", async () => {
    const csv = join(dir, "dolly.csv");
    await writeFile(csv, 'id,inputs,targets,language,script,source_id\n1,"Hello, world?",Hi,eng,Latn,7\n2,,x,fra,Latn,7\n');
    const { samples, problems } = await loadDataset(csv);
    expect(samples).toMatchObject([{ id: "1", prompt: "Hello, world?", language: "en", sourceId: "7", reference: "Hi" }]);
    expect(problems).toEqual([{ file: csv, line: 3, message: "missing inputs (the prompt)" }]);
    await expectInputError(loadDataset(join(dir, "x.txt")), "x.txt");
    await expectInputError(loadDataset(join(dir, "missing.jsonl")), "missing.jsonl");
    await expectInputError(loadDataset("datasets/dolly-200-sample.jsonl", { languages: ["xx"] }), "xx");
  });
});
