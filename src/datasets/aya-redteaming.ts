import { toLanguageId } from "./languages.ts";
import type { Row } from "./rows.ts";
import type { Sample } from "./types.ts";

/**
 * Aya Red-teaming (CohereForAI/aya_redteaming): `prompt`, `language` ("English"), `harm_category` (a
 * stringified list), `global_or_local`, `literal_translation`, `semantic_translation`, `explanation`. Parallel
 * sets translated from English (as the study did) may add `source_id`.
 */
export function ayaRedteamingSample(row: Row, line: number, dataset: string): Sample | string {
  const prompt = row.prompt;
  if (typeof prompt !== "string" || prompt.trim() === "") return "missing prompt";
  const language = toLanguageId(row.language);
  if (!language) return `unknown language ${JSON.stringify(row.language)}`;
  const harmCategory = parseCategories(row.harm_category);
  if (harmCategory === undefined) return `harm_category ${JSON.stringify(row.harm_category)} is not a list`;
  const { prompt: _p, language: _l, harm_category: _h, id, source_id: sourceId, ...rest } = row;
  return {
    dataset,
    kind: "aya-redteaming",
    id: id === undefined || id === null ? String(line) : String(id),
    ...(sourceId !== undefined && sourceId !== null && sourceId !== "" ? { sourceId: String(sourceId) } : {}),
    language,
    prompt,
    meta: { ...rest, harm_category: harmCategory },
  };
}

/** The published files hold `'["Hate Speech", "Violence, Threats & Incitement"]'`: JSON inside a string. */
function parseCategories(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === "") return [];
  if (Array.isArray(value)) return value.every((v) => typeof v === "string") ? value : undefined;
  if (typeof value !== "string") return undefined;
  // JSON first; then a Python-style repr with single quotes (['Hate Speech']).
  for (const text of [value, value.replace(/'/g, '"')]) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) return parsed;
    } catch {
      // try the next reading
    }
  }
  return undefined;
}
