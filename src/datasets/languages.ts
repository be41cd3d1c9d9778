import type { LanguageId } from "./types.ts";

/** The study's six languages (en, hi, fr, es, ar, ru). */
export const STUDY_LANGUAGES: readonly LanguageId[] = ["en", "hi", "fr", "es", "ar", "ru"];

/**
 * Every spelling the two sets use for a language, in one place: English names (Aya Red-teaming `language`),
 * lowercase split names (lm-eval), ISO 639-3 codes (Aya file names, Dolly `language`), ISO 639-1 ids.
 */
const LANGUAGES: readonly { id: LanguageId; name: string; aliases: readonly string[] }[] = [
  { id: "en", name: "English", aliases: ["eng"] },
  { id: "hi", name: "Hindi", aliases: ["hin"] },
  { id: "fr", name: "French", aliases: ["fra", "fre"] },
  { id: "es", name: "Spanish", aliases: ["spa"] },
  { id: "ar", name: "Arabic", aliases: ["ara", "arb", "standard arabic"] },
  { id: "ru", name: "Russian", aliases: ["rus"] },
  { id: "sr", name: "Serbian", aliases: ["srp"] },
  { id: "tl", name: "Tagalog", aliases: ["tgl", "fil", "filipino"] },
  { id: "de", name: "German", aliases: ["deu", "ger"] },
  { id: "it", name: "Italian", aliases: ["ita"] },
  { id: "pt", name: "Portuguese", aliases: ["por"] },
  { id: "zh", name: "Chinese", aliases: ["zho", "chi", "cmn"] },
  { id: "ja", name: "Japanese", aliases: ["jpn"] },
  { id: "ko", name: "Korean", aliases: ["kor"] },
  { id: "tr", name: "Turkish", aliases: ["tur"] },
  { id: "id", name: "Indonesian", aliases: ["ind"] },
  { id: "vi", name: "Vietnamese", aliases: ["vie"] },
  { id: "fa", name: "Persian", aliases: ["fas", "pes", "per"] },
  { id: "he", name: "Hebrew", aliases: ["heb"] },
  { id: "uk", name: "Ukrainian", aliases: ["ukr"] },
  { id: "pl", name: "Polish", aliases: ["pol"] },
  { id: "nl", name: "Dutch", aliases: ["nld", "dut"] },
  { id: "sw", name: "Swahili", aliases: ["swa", "swh"] },
  { id: "bn", name: "Bengali", aliases: ["ben"] },
  { id: "ur", name: "Urdu", aliases: ["urd"] },
  { id: "te", name: "Telugu", aliases: ["tel"] },
];

const BY_SPELLING = new Map<string, LanguageId>(
  LANGUAGES.flatMap(({ id, name, aliases }) => [id, name.toLowerCase(), ...aliases].map((s) => [s, id] as [string, LanguageId])),
);

/** "English", "english", "eng", "en", "arb_Arab" → a LanguageId; undefined when unknown. */
export function toLanguageId(value: unknown): LanguageId | undefined {
  if (typeof value !== "string") return undefined;
  const spelling = value.trim().toLowerCase().replace(/[_-][a-z]{4}$/, ""); // drop a script suffix (arb_Arab)
  return BY_SPELLING.get(spelling);
}

export function languageName(id: LanguageId): string {
  return LANGUAGES.find((l) => l.id === id)?.name ?? id;
}
