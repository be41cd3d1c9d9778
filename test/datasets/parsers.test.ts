import { describe, expect, it } from "vitest";
import { parseStringList } from "../../src/datasets/aya-redteaming.ts";
import { toSamples } from "../../src/datasets/index.ts";
import { csvRows, jsonlRows, objectRows } from "../../src/datasets/rows.ts";

// The parsing half of the stage, without files.
describe("pure parsers", () => {
  it.each([
    ['["Discrimination & Injustice"]', ["Discrimination & Injustice"]],
    ['["Hate Speech", "Violence, Threats & Incitement"]', ["Hate Speech", "Violence, Threats & Incitement"]],
    ["['Hate Speech', 'Profanity']", ["Hate Speech", "Profanity"]],
    ["[ 'a\\'s' , \"b\" , ]", ["a's", "b"]],
    ["[]", []],
    ["", []],
    [null, []],
    [["Profanity"], ["Profanity"]],
    ["Profanity", undefined],
    ['"Profanity"', undefined],
    ["['a' 'b']", undefined],
    ["[1]", undefined],
    [[1], undefined],
    [{ a: 1 }, undefined],
  ])("harm_category %j → %j", (value, expected) => {
    expect(parseStringList(value)).toEqual(expected);
  });

  it("JSONL and CSV text become numbered rows; Parquet BigInts become plain values", () => {
    expect(jsonlRows("f.jsonl", '\uFEFF{"a":1}\r\n\n{"a":2}\n').rows).toEqual([{ line: 1, row: { a: 1 } }, { line: 3, row: { a: 2 } }]);
    expect(csvRows("f.csv", "a,b\n1,2\n\n3,4").rows).toEqual([{ line: 2, row: { a: "1", b: "2" } }, { line: 4, row: { a: "3", b: "4" } }]);
    expect(objectRows([{ id: 1n, big: 2n ** 63n - 1n, s: "x" }]).rows).toEqual([{ line: 1, row: { id: 1, big: "9223372036854775807", s: "x" } }]);
  });

  it("toSamples applies a schema to rows from any source", () => {
    const raw = objectRows([{ id: 5n, inputs: "Hi?", targets: "Hello.", language: "arb_Arab", script: "Arab", source_id: 9n }]);
    expect(toSamples("mem.parquet", raw)).toEqual({
      samples: [{ dataset: "mem", kind: "dolly-200", id: "5", sourceId: "9", language: "ar", prompt: "Hi?", reference: "Hello.", meta: { script: "Arab" } }],
      problems: [],
    });
    expect(toSamples("mem.parquet", raw, { languages: ["fr"] }).samples).toEqual([]);
  });
});
