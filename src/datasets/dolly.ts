import { toLanguageId } from "./languages.ts";
import type { Row } from "./rows.ts";
import type { Sample } from "./types.ts";

/**
 * Multilingual Dolly-200 (Aya Evaluation Suite `dolly_machine_translated` / `dolly_human_edited`):
 * `id`, `inputs`, `targets`, `language` (ISO 639-3), `script`, `source_id` (shared across translations).
 */
export function dollySample(row: Row, line: number, dataset: string): Sample | string {
  const prompt = row.inputs;
  if (typeof prompt !== "string" || prompt.trim() === "") return "missing inputs (the prompt)";
  const language = toLanguageId(row.language);
  if (!language) return `unknown language ${JSON.stringify(row.language)}`;
  const { inputs: _i, targets, language: _l, id, source_id: sourceId, ...rest } = row;
  return {
    dataset,
    kind: "dolly-200",
    id: id === undefined || id === null || id === "" ? String(line) : String(id),
    ...(sourceId !== undefined && sourceId !== null && sourceId !== "" ? { sourceId: String(sourceId) } : {}),
    language,
    prompt,
    ...(typeof targets === "string" && targets !== "" ? { reference: targets } : {}),
    meta: rest,
  };
}
