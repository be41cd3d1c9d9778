import { idText, optional, text } from "./fields.ts";
import { toLanguageId } from "./languages.ts";
import type { DatasetSchema } from "./registry.ts";
import type { Row } from "./rows.ts";
import type { Sample } from "./types.ts";

/**
 * Multilingual Dolly-200 (Aya Evaluation Suite `dolly_machine_translated` / `dolly_human_edited`): `id`, `inputs`
 * (the prompt), `targets` (the reference answer), `language` (ISO 639-3), `script`, `source_id` (the original Dolly
 * id, shared by the translations of one prompt).
 */
export function dollySample(row: Row, line: number, dataset: string): Sample | string {
  const prompt = text(row.inputs);
  if (prompt === undefined) return 'missing or empty "inputs" (the prompt)';
  const language = toLanguageId(row.language);
  if (!language) return row.language === undefined ? 'missing "language"' : `unknown language ${JSON.stringify(row.language)}`;
  const { inputs: _i, targets, language: _l, id, source_id: sourceId, ...rest } = row;
  return {
    dataset,
    kind: "dolly-200",
    id: idText(id) ?? String(line),
    ...optional("sourceId", idText(sourceId)),
    language,
    prompt,
    ...optional("reference", text(targets)),
    meta: rest,
  };
}

export const dolly200: DatasetSchema = {
  kind: "dolly-200",
  languageField: "language",
  looksLike: (row) => "inputs" in row,
  parse: dollySample,
};
