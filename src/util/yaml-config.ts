import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { InputError } from "../errors.ts";

/**
 * Parses YAML and validates it with a zod schema; errors name the file, the line and the path of the bad key
 * (`file:12: merges.slerp.recipe: …`).
 */
export function parseYamlConfig<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0]?.line ?? lineCounter.linePos(yamlError.pos[0]).line;
    throw new InputError(`${file}${line ? `:${line}` : ""}: invalid YAML (${yamlError.message.split("\n")[0]})`);
  }
  const result = schema.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    // The deepest node that exists: a missing key is reported at its parent's line.
    let line: number | undefined = issue.code === "unrecognized_keys" ? keyLine(doc, path, issue.keys[0]!, lineCounter) : undefined;
    for (let depth = path.length; depth >= 0 && line === undefined; depth--) {
      const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) line = lineCounter.linePos(node.range[0]).line;
    }
    const key = path.length ? path.join(".") : "(top level)";
    const detail = issue.code === "unrecognized_keys" ? `unknown key(s) ${issue.keys.join(", ")}` : issue.message;
    throw new InputError(`${file}${line ? `:${line}` : ""}: ${key}: ${detail}`);
  }
  return result.data;
}

/** The line of a key inside the map at `path` (unknown keys are reported where they are written). */
function keyLine(doc: ReturnType<typeof parseDocument>, path: (string | number)[], key: string, lineCounter: LineCounter): number | undefined {
  const map = (path.length ? doc.getIn(path, true) : doc.contents) as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null;
  const pair = map?.items?.find((item) => item.key?.value === key);
  return pair?.key?.range ? lineCounter.linePos(pair.key.range[0]).line : undefined;
}
