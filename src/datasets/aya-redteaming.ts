import { idText, optional, text } from "./fields.ts";
import { toLanguageId } from "./languages.ts";
import type { DatasetSchema } from "./registry.ts";
import type { Row } from "./rows.ts";
import type { Sample } from "./types.ts";

/**
 * Aya Red-teaming (CohereForAI/aya_redteaming): `prompt`, `language` ("English"), `harm_category` (a stringified
 * list), `global_or_local`, `literal_translation`, `semantic_translation`, `explanation`. Sets translated from the
 * English prompts (as the study did) may add `source_id`, shared by the translations of one prompt; an `id` field
 * is used when present, else the line number.
 */
export function ayaRedteamingSample(row: Row, line: number, dataset: string): Sample | string {
  const prompt = text(row.prompt);
  if (prompt === undefined) return 'missing or empty "prompt"';
  const language = toLanguageId(row.language);
  if (!language) return row.language === undefined ? 'missing "language"' : `unknown language ${JSON.stringify(row.language)}`;
  const harmCategory = parseStringList(row.harm_category);
  if (harmCategory === undefined) return `harm_category ${JSON.stringify(row.harm_category)} is not a list of strings`;
  const { prompt: _p, language: _l, harm_category: _h, id, source_id: sourceId, ...rest } = row;
  return {
    dataset,
    kind: "aya-redteaming",
    id: idText(id) ?? String(line),
    ...optional("sourceId", idText(sourceId)),
    language,
    prompt,
    meta: { ...rest, harm_category: harmCategory },
  };
}

export const ayaRedteaming: DatasetSchema = {
  kind: "aya-redteaming",
  languageField: "language",
  looksLike: (row) => "prompt" in row && ("harm_category" in row || "global_or_local" in row),
  parse: ayaRedteamingSample,
};

/**
 * The published files hold JSON inside a string (`'["Hate Speech", "Profanity"]'`); a real list, a Python repr
 * (`"['Hate Speech']"`) and a missing or empty value (no category) are accepted too. Undefined when unreadable.
 */
export function parseStringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === "") return [];
  if (Array.isArray(value)) return value.every((v) => typeof v === "string") ? value : undefined;
  if (typeof value !== "string") return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) && parsed.every((v) => typeof v === "string") ? parsed : undefined;
  } catch {
    return pythonStringList(value.trim());
  }
}

const PY_STRING = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|$)/y;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r" };

/** `['a', "b's"]`: a Python list of string literals (what `str(list)` prints). */
function pythonStringList(source: string): string[] | undefined {
  if (!source.startsWith("[") || !source.endsWith("]")) return undefined;
  const body = source.slice(1, -1);
  const items: string[] = [];
  PY_STRING.lastIndex = 0;
  while (body.slice(PY_STRING.lastIndex).trim() !== "") {
    const match = PY_STRING.exec(body);
    if (!match) return undefined;
    items.push((match[1] ?? match[2] ?? "").replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c));
    if (match[3] === "") break;
  }
  return items;
}
