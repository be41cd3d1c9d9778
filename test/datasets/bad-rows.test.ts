import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/datasets/index.ts";
import { expectInputError } from "../expect-input-error.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-datasets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, lines: readonly (string | object)[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return path;
}
const red = (fields: object) => ({ prompt: "Tell me a rude joke.", language: "English", harm_category: '["Profanity"]', global_or_local: "global", ...fields });
const dolly = (fields: object) => ({ id: 1, inputs: "Why is the sky blue?", targets: "Scattering.", language: "eng", script: "Latn", source_id: 7, ...fields });

describe("bad rows are reported with file and line, and skipped", () => {
  it("Aya Red-teaming JSONL", async () => {
    const path = await file("red.jsonl", [
      red({}), // 1
      "{not json", // 2
      "", // 3: blank, skipped silently
      "[1, 2]", // 4
      red({ prompt: "" }), // 5
      red({ prompt: undefined }), // 6
      red({ language: "Klingon" }), // 7
      red({ language: undefined }), // 8
      red({ harm_category: "Profanity" }), // 9: a stringified list that does not parse
      red({ harm_category: '["Profanity", 3]' }), // 10
      red({ harm_category: "['Children\\'s rights', \"Hate Speech\"]", language: "fra" }), // 11: Python repr
      red({ harm_category: ["Profanity"], id: "x-1", source_id: 4 }), // 12: a real list
      red({ harm_category: "" }), // 13: no category
    ]);
    const { samples, problems } = await loadDataset(path);
    expect(samples.map((s) => [s.id, s.language, s.meta.harm_category])).toEqual([
      ["1", "en", ["Profanity"]],
      ["11", "fr", ["Children's rights", "Hate Speech"]],
      ["x-1", "en", ["Profanity"]],
      ["13", "en", []],
    ]);
    expect(samples[2]!.sourceId).toBe("4");
    expect(problems.map((p) => [p.file, p.line])).toEqual([2, 4, 5, 6, 7, 8, 9, 10].map((line) => [path, line]));
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^invalid JSON/),
      "not a JSON object",
      'missing or empty "prompt"',
      'missing or empty "prompt"',
      'unknown language "Klingon"',
      'missing "language"',
      'harm_category "Profanity" is not a list of strings',
      'harm_category "[\\"Profanity\\", 3]" is not a list of strings',
    ]);
  });

  it("Dolly-200 JSONL", async () => {
    const path = await file("dolly.jsonl", [dolly({}), dolly({ id: 2, inputs: "   " }), dolly({ id: 3, language: "xx_Latn" }), dolly({ id: "", targets: null, source_id: null })]);
    const { samples, problems } = await loadDataset(path);
    expect(samples).toEqual([
      { dataset: "dolly", kind: "dolly-200", id: "1", sourceId: "7", language: "en", prompt: "Why is the sky blue?", reference: "Scattering.", meta: { script: "Latn" } },
      { dataset: "dolly", kind: "dolly-200", id: "4", language: "en", prompt: "Why is the sky blue?", meta: { script: "Latn" } },
    ]);
    expect(problems).toEqual([
      { file: path, line: 2, message: 'missing or empty "inputs" (the prompt)' },
      { file: path, line: 3, message: 'unknown language "xx_Latn"' },
    ]);
  });

  it("CSV: a record's first line, also for quoted fields spanning lines; broken records are problems", async () => {
    const path = join(dir, "dolly.csv");
    await writeFile(
      path,
      [
        "id,inputs,targets,language,script,source_id", // 1
        '1,"Write a haiku,\nplease",ok,eng,Latn,7', // 2-3
        "", // 4
        "2,,x,fra,Latn,7", // 5: empty prompt
        "3,too few,fields", // 6
        '4,"Hola, ¿qué tal?",Bien,spa,Latn,8', // 7
        '5,"never closed,x,eng,Latn,9', // 8
      ].join("\r\n") + "\r\n",
    );
    const { samples, problems } = await loadDataset(path);
    expect(samples.map((s) => [s.id, s.prompt, s.language])).toEqual([["1", "Write a haiku,\nplease", "en"], ["4", "Hola, ¿qué tal?", "es"]]);
    expect(problems.map((p) => [p.line, p.message.slice(0, 24)])).toEqual([
      [5, 'missing or empty "inputs'],
      [6, "invalid CSV record (Inva"],
      [8, "invalid CSV record (Quot"],
    ]);
    await expectInputError(loadDataset(path, { strict: true }), `${path}:5: missing or empty "inputs"`);
  });

  it("Parquet: the 1-based row number", async () => {
    const path = join(dir, "dolly.parquet");
    await parquetWriteFile({
      filename: path,
      columnData: [
        { name: "id", data: [10n, 11n, 12n, 9007199254740993n], type: "INT64" },
        { name: "inputs", data: ["¿Por qué el cielo es azul?", "", "Почему небо голубое?", "Why?"], type: "STRING" },
        { name: "targets", data: ["Por la dispersión.", "x", "Из-за рассеяния.", "Because."], type: "STRING" },
        { name: "language", data: ["spa", "fra", "klingon", "eng"], type: "STRING" },
        { name: "script", data: ["Latn", "Latn", "Cyrl", "Latn"], type: "STRING" },
        { name: "source_id", data: [102n, 102n, 102n, 103n], type: "INT64" },
      ],
    });
    const { samples, problems } = await loadDataset(path);
    expect(samples.map((s) => [s.id, s.sourceId, s.language])).toEqual([["10", "102", "es"], ["9007199254740993", "103", "en"]]);
    expect(problems).toEqual([
      { file: path, line: 2, message: 'missing or empty "inputs" (the prompt)' },
      { file: path, line: 3, message: 'unknown language "klingon"' },
    ]);
    expect(JSON.parse(JSON.stringify(samples))).toEqual(samples); // no BigInt left anywhere
  });

  it("only rows of the wanted languages are checked", async () => {
    const path = await file("filtered.jsonl", [red({}), red({ prompt: "", language: "French" }), red({ language: "Klingon" })]);
    const { samples, problems } = await loadDataset(path, { languages: ["en"] });
    expect(samples).toHaveLength(1);
    expect(problems.map((p) => p.line)).toEqual([3]); // an unknown language may be a wanted one
  });
});

describe("strict mode and unusable files", () => {
  it("strict: the first bad row is an InputError naming file and line", async () => {
    const path = await file("strict.jsonl", [red({}), red({ language: "Klingon" }), "{oops"]);
    await expectInputError(loadDataset(path, { strict: true }), `${path}:2: unknown language "Klingon"`);
    expect((await loadDataset(path, { strict: false })).problems).toHaveLength(2);
    await expect(loadDataset("datasets/aya-redteaming-sample.jsonl", { strict: true })).resolves.toBeTruthy();
  });

  it("a missing file, an unknown format, an unreadable Parquet file, no rows or an unknown schema is an InputError naming the file", async () => {
    await expectInputError(loadDataset(join(dir, "missing.jsonl")), "missing.jsonl", "no such file");
    await expectInputError(loadDataset(join(dir, "missing.parquet")), "missing.parquet");
    await expectInputError(loadDataset(await file("data.txt", ["x"])), "data.txt", "unknown dataset format");
    await expectInputError(loadDataset(await file("fake.parquet", ["not parquet"])), "fake.parquet", "cannot read parquet");
    await expectInputError(loadDataset(await file("empty.jsonl", [])), "empty.jsonl", "no rows");
    await expectInputError(loadDataset(await file("header-only.csv", ["id,inputs,targets,language"])), "header-only.csv", "no rows");
    await expectInputError(loadDataset(await file("other.jsonl", [{ question: "?", answer: "!" }])), "other.jsonl", "neither");
  });

  it("a file of nothing but bad lines returns its problems (strict: throws)", async () => {
    const path = await file("all-bad.jsonl", ["{", "nope"]);
    expect((await loadDataset(path)).problems.map((p) => p.line)).toEqual([1, 2]);
    await expectInputError(loadDataset(path, { strict: true }), `${path}:1:`);
  });

  it("an unknown language in the filter is an InputError; a given kind overrides detection", async () => {
    await expectInputError(loadDataset("datasets/dolly-200-sample.jsonl", { languages: ["xx"] }), '"xx"');
    const { samples, problems } = await loadDataset("datasets/aya-redteaming-sample.jsonl", { kind: "dolly-200" });
    expect(samples).toEqual([]);
    expect(problems).toHaveLength(18);
    expect(problems[0]!.message).toMatch(/"inputs"/);
  });
});
