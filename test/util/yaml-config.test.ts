import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InputError } from "../../src/errors.ts";
import { closestName, editDistance } from "../../src/util/suggest.ts";
import { parseYamlConfig, readYamlConfig } from "../../src/util/yaml-config.ts";

const endpointModel = z.object({ endpoint: z.string(), model: z.string(), role: z.string() }).strict();
const localModel = z.object({ path: z.string(), role: z.string() }).strict();
const schema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    languages: z.array(z.string()).min(1),
    models: z.record(z.string(), z.union([localModel, endpointModel])),
    generation: z.object({ max_tokens: z.number().default(256), temperature: z.number().optional() }).strict().optional(),
  })
  .strict();

const GOOD = ["name: demo", "languages: [en, fr]", "models:", "  base: { path: m/base, role: base }", "generation:", "  max_tokens: 64", ""];

/** The message of the InputError that parsing `lines` throws. */
function errorFor(lines: string[]): string {
  try {
    parseYamlConfig(schema, lines.join("\n"), "typo.yml");
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error("expected an InputError");
}

const edit = (line: number, text: string) => GOOD.map((l, i) => (i === line - 1 ? text : l));

describe("yaml-config messages", () => {
  it("reads a valid file, and knows where each key is written", () => {
    const { data, lineOf } = readYamlConfig(schema, GOOD.join("\n"), "ok.yml");
    expect(data.models.base).toEqual({ path: "m/base", role: "base" });
    expect(lineOf(["generation", "max_tokens"])).toBe(6);
    expect(lineOf(["languages", 1])).toBe(2);
    expect(lineOf(["nope"])).toBeUndefined();
  });

  it("a misspelt required key is an unknown key at its own line with a suggestion, not a missing key", () => {
    expect(errorFor(edit(2, "langauges: [en, fr]"))).toBe('typo.yml:2: langauges: unknown key — did you mean "languages"?');
  });

  it("reports every unknown key, each at its own line, nested ones with their path", () => {
    const lines = edit(2, "langauges: [en, fr]");
    lines[5] = "  max_tokns: 64";
    lines.push("colour: blue");
    expect(errorFor(lines).split("\n")).toEqual([
      'typo.yml:2: langauges: unknown key — did you mean "languages"?',
      'typo.yml:6: generation.max_tokns: unknown key — did you mean "max_tokens"?',
      "typo.yml:8: colour: unknown key",
    ]);
  });

  it("inside a union, a key no alternative knows is unknown; a key of another alternative is not", () => {
    expect(errorFor(edit(4, "  base: { path: m/base, roel: base }"))).toBe('typo.yml:4: models.base.roel: unknown key — did you mean "role"?');
    expect(errorFor(edit(4, "  base: { path: m/base, endpoint: http://x, model: m, role: base }"))).toMatch(
      /^typo\.yml:4: models\.base: endpoint, model: not allowed together/,
    );
  });

  it("a missing key says missing: without a line at the top level, at its parent's line below it", () => {
    expect(errorFor(GOOD.filter((l) => !l.startsWith("languages")))).toBe("typo.yml: languages: missing (required)");
    expect(errorFor(edit(4, "  base: { path: m/base }"))).toBe("typo.yml:4: models.base.role: missing (required)");
  });

  it("a wrong type names the line of the value", () => {
    expect(errorFor(edit(6, "  max_tokens: many"))).toMatch(/^typo\.yml:6: generation\.max_tokens: Invalid input: expected number/);
  });

  it("a file with several YAML documents gets mergeval's own message, at the second document", () => {
    const message = errorFor([...GOOD, "---", "name: other"]);
    expect(message).toBe("typo.yml:8: holds 2 YAML documents (separated by ---); mergeval reads one document per file: split it into one file each");
    expect(message).not.toMatch(/parseAllDocuments/);
  });

  it("an empty file (or one of only comments) says so, not that an object was expected", () => {
    expect(errorFor([])).toBe("typo.yml: is empty (no YAML keys, only blank lines or comments)");
    expect(errorFor(["# merge recipe", "", "   "])).toBe("typo.yml: is empty (no YAML keys, only blank lines or comments)");
  });

  it("a syntax error names its line", () => {
    expect(errorFor([...GOOD, "name: again"])).toMatch(/^typo\.yml:8: invalid YAML/);
  });
});

describe("suggestions", () => {
  it("counts a swap of adjacent letters as one edit", () => {
    expect(editDistance("langauges", "languages")).toBe(1);
    expect(editDistance("densty", "density")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });
  it("suggests only a close name", () => {
    expect(closestName("densty", ["weight", "density", "normalize"])).toBe("density");
    expect(closestName("colour", ["name", "languages", "models"])).toBeUndefined();
  });
});
