import type { LanguageId } from "./types.ts";

/** The study's six languages (en, hi, fr, es, ar, ru). */
export const STUDY_LANGUAGES: readonly LanguageId[] = ["en", "hi", "fr", "es", "ar", "ru"];

/**
 * [id, English name, other codes, other names]: every spelling the two sets use, in one place. The id is ISO 639-1
 * where one exists, else the ISO 639-3 code. Other codes are ISO 639-3/639-2 (Aya file names `aya_arb.jsonl`, Dolly
 * `language`, NLLB `arb_Arab` without the script); names cover Aya Red-teaming's `language` ("English") and the
 * lowercase split names ("filipino"). A macrolanguage and its standard variety share an id (ara, arb → ar); other
 * varieties keep their own code (ary Moroccan Arabic), so a filter on "ar" means Modern Standard Arabic.
 * Rows: the study's languages, the rest of Aya Red-teaming, then the Aya Evaluation Suite's Dolly languages.
 */
type Entry = readonly [id: LanguageId, name: string, codes: string, names?: string];
const TABLE: readonly Entry[] = [
  ["en", "English", "eng"],
  ["hi", "Hindi", "hin"],
  ["fr", "French", "fra fre"],
  ["es", "Spanish", "spa", "Castilian"],
  ["ar", "Arabic", "ara arb", "Standard Arabic; Modern Standard Arabic"],
  ["ru", "Russian", "rus"],
  ["sr", "Serbian", "srp"],
  ["tl", "Tagalog", "tgl fil", "Filipino"],
  ["af", "Afrikaans", "afr"],
  ["sq", "Albanian", "sqi alb als"],
  ["am", "Amharic", "amh"],
  ["acm", "Mesopotamian Arabic", "", "Iraqi Arabic"],
  ["acq", "Ta'izzi-Adeni Arabic", ""],
  ["aeb", "Tunisian Arabic", ""],
  ["ajp", "South Levantine Arabic", ""],
  ["apc", "North Levantine Arabic", ""],
  ["ars", "Najdi Arabic", ""],
  ["ary", "Moroccan Arabic", ""],
  ["arz", "Egyptian Arabic", ""],
  ["az", "Azerbaijani", "aze azj", "North Azerbaijani"],
  ["azb", "South Azerbaijani", ""],
  ["be", "Belarusian", "bel"],
  ["bn", "Bengali", "ben", "Bangla"],
  ["bg", "Bulgarian", "bul"],
  ["ca", "Catalan", "cat"],
  ["ceb", "Cebuano", ""],
  ["cs", "Czech", "ces cze"],
  ["ku", "Kurdish", "kur kmr", "Northern Kurdish; Kurmanji"],
  ["ckb", "Central Kurdish", "", "Sorani"],
  ["cy", "Welsh", "cym wel"],
  ["da", "Danish", "dan"],
  ["de", "German", "deu ger"],
  ["el", "Greek", "ell gre"],
  ["eo", "Esperanto", "epo"],
  ["et", "Estonian", "est ekk"],
  ["eu", "Basque", "eus baq"],
  ["fi", "Finnish", "fin"],
  ["gd", "Scottish Gaelic", "gla", "Gaelic"],
  ["ga", "Irish", "gle"],
  ["gl", "Galician", "glg"],
  ["gu", "Gujarati", "guj"],
  ["ht", "Haitian Creole", "hat", "Haitian"],
  ["ha", "Hausa", "hau"],
  ["he", "Hebrew", "heb"],
  ["hu", "Hungarian", "hun"],
  ["hy", "Armenian", "hye arm"],
  ["ig", "Igbo", "ibo"],
  ["id", "Indonesian", "ind"],
  ["is", "Icelandic", "isl ice"],
  ["it", "Italian", "ita"],
  ["jv", "Javanese", "jav"],
  ["ja", "Japanese", "jpn"],
  ["kn", "Kannada", "kan"],
  ["ka", "Georgian", "kat geo"],
  ["kk", "Kazakh", "kaz"],
  ["mn", "Mongolian", "mon khk"],
  ["km", "Khmer", "khm"],
  ["ky", "Kyrgyz", "kir", "Kirghiz"],
  ["ko", "Korean", "kor"],
  ["lo", "Lao", "lao"],
  ["lt", "Lithuanian", "lit"],
  ["lb", "Luxembourgish", "ltz"],
  ["lv", "Latvian", "lav lvs"],
  ["ml", "Malayalam", "mal"],
  ["mr", "Marathi", "mar"],
  ["mk", "Macedonian", "mkd mac"],
  ["mt", "Maltese", "mlt"],
  ["mi", "Maori", "mri mao", "Māori"],
  ["my", "Burmese", "mya bur", "Myanmar"],
  ["nl", "Dutch", "nld dut", "Flemish"],
  ["no", "Norwegian", "nor"],
  ["nb", "Norwegian Bokmål", "nob", "Bokmål"],
  ["nn", "Norwegian Nynorsk", "nno", "Nynorsk"],
  ["ne", "Nepali", "nep npi"],
  ["st", "Southern Sotho", "sot", "Sesotho"],
  ["ps", "Pashto", "pus pbt pbu"],
  ["fa", "Persian", "fas per pes", "Farsi; Western Persian"],
  ["mg", "Malagasy", "mlg plt"],
  ["pl", "Polish", "pol"],
  ["pt", "Portuguese", "por"],
  ["ro", "Romanian", "ron rum", "Moldavian"],
  ["si", "Sinhala", "sin", "Sinhalese"],
  ["sk", "Slovak", "slk slo"],
  ["sl", "Slovenian", "slv", "Slovene"],
  ["sm", "Samoan", "smo"],
  ["sn", "Shona", "sna"],
  ["sd", "Sindhi", "snd"],
  ["so", "Somali", "som"],
  ["su", "Sundanese", "sun"],
  ["sv", "Swedish", "swe"],
  ["sw", "Swahili", "swa swh"],
  ["ta", "Tamil", "tam"],
  ["te", "Telugu", "tel"],
  ["tg", "Tajik", "tgk"],
  ["th", "Thai", "tha"],
  ["tr", "Turkish", "tur"],
  ["uk", "Ukrainian", "ukr"],
  ["ur", "Urdu", "urd"],
  ["uz", "Uzbek", "uzb uzn", "Northern Uzbek"],
  ["vi", "Vietnamese", "vie"],
  ["xh", "Xhosa", "xho"],
  ["yi", "Yiddish", "yid ydd", "Eastern Yiddish"],
  ["yo", "Yoruba", "yor", "Yorùbá"],
  ["zh", "Chinese", "zho chi cmn", "Mandarin"],
  ["ms", "Malay", "msa may zsm zlm", "Standard Malay"],
  ["zu", "Zulu", "zul"],
  ["ace", "Acehnese", "", "Achinese"],
  ["bjn", "Banjar", ""],
  ["ks", "Kashmiri", "kas"],
  ["kr", "Kanuri", "kau knc", "Central Kanuri"],
  ["min", "Minangkabau", ""],
  ["mni", "Manipuri", "", "Meitei"],
  ["taq", "Tamasheq", ""],
  ["nso", "Northern Sotho", "", "Sepedi; Pedi"],
  ["hr", "Croatian", "hrv"],
  ["bs", "Bosnian", "bos"],
  ["pa", "Punjabi", "pan", "Panjabi"],
];

const normalise = (s: string) => s.normalize("NFC").trim().toLowerCase().replace(/\s+/g, " ");

const BY_SPELLING = new Map<string, LanguageId>();
const NAMES = new Map<LanguageId, string>();
for (const [id, name, codes, names = ""] of TABLE) {
  NAMES.set(id, name);
  const spellings = [id, name, ...codes.split(" "), ...names.split(";")].map(normalise).filter(Boolean);
  for (const s of spellings) {
    if (BY_SPELLING.has(s) && BY_SPELLING.get(s) !== id) throw new Error(`language table: "${s}" is ambiguous`);
    BY_SPELLING.set(s, id);
  }
}

/**
 * Any spelling of a language → its LanguageId, or undefined when unknown: "English", "english", "en", "eng",
 * "arb", "arb_Arab" (NLLB, with script), "en-US" (with region), "Chinese (Simplified)".
 */
export function toLanguageId(value: unknown): LanguageId | undefined {
  if (typeof value !== "string") return undefined;
  const spelling = normalise(value);
  const exact = BY_SPELLING.get(spelling) ?? BY_SPELLING.get(spelling.replace(/\s*\(.*\)$/, ""));
  if (exact) return exact;
  // A code followed by a script or region subtag: arb_Arab, zho_Hant, en-US, pt_BR.
  const tagged = /^([a-z]{2,3})[-_][a-z0-9]{2,4}(?:[-_][a-z0-9]{2,4})?$/.exec(spelling);
  return tagged ? BY_SPELLING.get(tagged[1]!) : undefined;
}

/** The English name of a language id ("ar" → "Arabic"); the id itself when unknown. */
export function languageName(id: LanguageId): string {
  return NAMES.get(id) ?? id;
}
