import { isMap, isSeq, LineCounter, parseAllDocuments, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { InputError } from "../errors.ts";
import { didYouMean } from "./suggest.ts";

/**
 * Parses YAML and validates it with a zod schema; errors name the file, the line and the path of the bad key
 * (`file:12: merges.slerp.recipe: …`). Unknown keys come first, each at its own line with a suggestion, since a
 * misspelt key also makes the key it was meant to be "missing".
 */

export type ConfigPath = readonly (string | number)[];

export interface YamlConfigOptions {
  /** What to do with a file holding several YAML documents, after "holds N YAML documents (separated by ---); ". */
  multiDocumentAdvice?: string;
}

export interface YamlConfig<T> {
  data: T;
  /** The line where the key (or list item) at `path` is written, if it is. */
  lineOf: (path: ConfigPath) => number | undefined;
}

const DEFAULT_MULTI_DOCUMENT_ADVICE = "mergeval reads one document per file: split it into one file each";

export function parseYamlConfig<S extends z.ZodType>(schema: S, text: string, file: string, options: YamlConfigOptions = {}): z.infer<S> {
  return readYamlConfig(schema, text, file, options).data;
}

/** parseYamlConfig, keeping the lines of the keys for checks made after the schema's. */
export function readYamlConfig<S extends z.ZodType>(schema: S, text: string, file: string, options: YamlConfigOptions = {}): YamlConfig<z.infer<S>> {
  const source = parseSource(text, file, options);
  const value: unknown = source.doc.toJS();
  if (value === null || value === undefined) throw new InputError(`${file}: is empty (no YAML keys, only blank lines or comments)`);
  const result = schema.safeParse(value);
  if (!result.success) throw new InputError(describeIssues(result.error.issues, { schema, value, source, file }));
  return { data: result.data, lineOf: source.keyLine };
}

interface Source {
  doc: Document;
  keyLine: (path: ConfigPath) => number | undefined;
  /** The line of the value at `path`, else of its nearest written ancestor. */
  nodeLine: (path: ConfigPath) => number | undefined;
}

function parseSource(text: string, file: string, options: YamlConfigOptions): Source {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0]?.line ?? lineCounter.linePos(yamlError.pos[0]).line;
    const at = `${file}${line ? `:${line}` : ""}`;
    if (yamlError.code === "MULTIPLE_DOCS") {
      const count = parseAllDocuments(text).length;
      throw new InputError(`${at}: holds ${count} YAML documents (separated by ---); ${options.multiDocumentAdvice ?? DEFAULT_MULTI_DOCUMENT_ADVICE}`);
    }
    throw new InputError(`${at}: invalid YAML (${yamlError.message.split("\n")[0]})`);
  }
  return { doc, ...lineFinders(doc, lineCounter) };
}

/** Where the keys of a (valid) YAML text are written, for checks made after parsing. */
export function yamlKeyLines(text: string): (path: ConfigPath) => number | undefined {
  const lineCounter = new LineCounter();
  return lineFinders(parseDocument(text, { lineCounter }), lineCounter).keyLine;
}

function lineFinders(doc: Document, lineCounter: LineCounter): Omit<Source, "doc"> {
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  return {
    keyLine(path) {
      const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
      const last = path[path.length - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((item) => (item.key as { value?: unknown } | null)?.value === last);
        const range = (pair?.key as { range?: [number, number, number] } | null)?.range;
        return range ? lineAt(range[0]) : undefined;
      }
      if (isSeq(parent) && typeof last === "number") {
        const range = (parent.items[last] as { range?: [number, number, number] } | undefined)?.range;
        return range ? lineAt(range[0]) : undefined;
      }
      return undefined;
    },
    nodeLine(path) {
      for (let depth = path.length; depth >= 0; depth--) {
        const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
        if (node?.range) return lineAt(node.range[0]);
      }
      return undefined;
    },
  };
}

type Issue = z.core.$ZodIssue;

interface IssueContext {
  schema: z.ZodType;
  value: unknown;
  source: Source;
  file: string;
}

function describeIssues(issues: readonly Issue[], context: IssueContext): string {
  const { schema, value, source, file } = context;
  const at = (line: number | undefined) => `${file}${line ? `:${line}` : ""}`;
  const unknown = unknownKeys(issues, []);
  if (unknown.length > 0) {
    const lines = unknown.map((path) => {
      const key = String(path[path.length - 1]);
      const parent = path.slice(0, -1);
      const present = Object.keys(objectAt(value, parent) ?? {});
      const candidates = keysAt(schema, parent).filter((k) => !present.includes(k));
      return { line: source.keyLine(path), text: `${pathText(path)}: unknown key${didYouMean(key, candidates)}` };
    });
    lines.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return lines.map((l) => `${at(l.line)}: ${l.text}`).join("\n");
  }
  const problem = firstProblem(issues[0]!, [], value);
  // A missing key is reported at its parent's line; a missing top-level key has no line worth naming.
  const line = problem.missing ? (problem.path.length > 1 ? source.nodeLine(problem.path.slice(0, -1)) : undefined) : source.nodeLine(problem.path);
  return `${at(line)}: ${pathText(problem.path)}: ${problem.message}`;
}

function pathText(path: ConfigPath): string {
  return path.length ? path.join(".") : "(top level)";
}

function issuePath(prefix: ConfigPath, issue: Issue): (string | number)[] {
  return [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== "symbol")];
}

/**
 * Paths of keys no schema form accepts. Inside a union, only keys that every alternative rejects count: a key
 * of another alternative (`path` next to `endpoint`) is a different fault, not a typo.
 */
function unknownKeys(issues: readonly Issue[], prefix: ConfigPath): (string | number)[][] {
  return issues.flatMap((issue) => {
    const at = issuePath(prefix, issue);
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => [...at, key]);
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const perBranch = issue.errors.map((branch) => unknownKeys(branch, at).map((p) => p.join("\u0000")));
      return unknownKeys(issue.errors[0]!, at).filter((p) => perBranch.every((keys) => keys.includes(p.join("\u0000"))));
    }
    return [];
  });
}

/** The issue to report when no key is unknown: inside a union, from the alternative that came closest. */
function firstProblem(issue: Issue, prefix: ConfigPath, value: unknown): { path: (string | number)[]; message: string; missing?: boolean } {
  const path = issuePath(prefix, issue);
  const parent = objectAt(value, path.slice(0, -1));
  if (path.length > 0 && parent && !Object.hasOwn(parent, String(path[path.length - 1]))) return { path, message: "missing (required)", missing: true };
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
    if (closest[0]) return firstProblem(closest[0], path, value);
  }
  if (issue.code === "unrecognized_keys") return { path, message: `${issue.keys.join(", ")}: not allowed together with the other keys here` };
  return { path, message: issue.message };
}

function objectAt(value: unknown, path: ConfigPath): Record<string, unknown> | undefined {
  let node = value;
  for (const key of path) node = node !== null && typeof node === "object" ? (node as Record<string | number, unknown>)[key] : undefined;
  return node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>) : undefined;
}

/** The zod definition fields this walk reads (zod v4's `_zod.def`). */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  options?: z.ZodType[];
  innerType?: z.ZodType;
  in?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

/** The keys an object at `path` may have, for suggestions (every alternative's keys, for a union). */
function keysAt(schema: z.ZodType, path: ConfigPath): string[] {
  const def = schema._zod.def as unknown as SchemaDef;
  const inner = def.innerType ?? def.in ?? def.getter?.();
  if (inner) return keysAt(inner, path);
  const alternatives = def.options ?? (def.left && def.right ? [def.left, def.right] : undefined);
  if (alternatives) return [...new Set(alternatives.flatMap((s) => keysAt(s, path)))];
  if (path.length === 0) return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
  const [head, ...rest] = path;
  const child = def.type === "object" ? def.shape?.[String(head)] : def.type === "tuple" ? def.items?.[Number(head)] : (def.element ?? def.valueType);
  return child ? keysAt(child, rest) : [];
}
