import { describe, expect, it } from "vitest";
import { languageName, STUDY_LANGUAGES, toLanguageId } from "../../src/datasets/index.ts";

describe("language table", () => {
  it.each([
    // ISO 639-1, ISO 639-3 (Aya file names, Dolly `language`), English names (Aya `language`), lowercase split names
    ...[["en", "eng", "English", "english"], ["hi", "hin", "Hindi", "hindi"], ["fr", "fra", "French", "french"],
      ["es", "spa", "Spanish", "spanish"], ["ar", "arb", "Arabic", "arabic"], ["ru", "rus", "Russian", "russian"],
      ["sr", "srp", "Serbian", "serbian"], ["tl", "tgl", "Tagalog", "filipino"]].flatMap(([id, ...spellings]) =>
      [id!, ...spellings].map((s) => [s, id] as [string, string])),
    ["ara", "ar"], ["fil", "tl"], ["Filipino", "tl"], ["fre", "fr"], ["  English ", "en"], ["ENGLISH", "en"],
    // with script or region subtags
    ["arb_Arab", "ar"], ["hin_Deva", "hi"], ["rus_Cyrl", "ru"], ["zho_Hant", "zh"], ["en-US", "en"], ["pt_BR", "pt"],
    ["Chinese (Simplified)", "zh"], ["Modern Standard Arabic", "ar"],
    // other Dolly-200 languages: 639-1 when it exists, else the 639-3 code; dialects keep their own code
    ["deu", "de"], ["zsm", "ms"], ["npi", "ne"], ["swh", "sw"], ["pes", "fa"], ["ceb", "ceb"], ["ace_Latn", "ace"],
    ["ary", "ary"], ["arz_Arab", "arz"], ["azb", "azb"], ["azj", "az"], ["knc", "kr"], ["nso", "nso"],
  ])("%s → %s", (spelling, id) => {
    expect(toLanguageId(spelling)).toBe(id);
  });

  it.each([["Klingon"], ["tlh"], ["xx"], [""], ["english!"], ["en-"], ["arb_Arab_Latn_x"], [42], [null], [undefined]])("%s is unknown", (v) => {
    expect(toLanguageId(v)).toBeUndefined();
  });

  it("names the study's six languages", () => {
    expect(STUDY_LANGUAGES).toEqual(["en", "hi", "fr", "es", "ar", "ru"]);
    expect(STUDY_LANGUAGES.map(languageName)).toEqual(["English", "Hindi", "French", "Spanish", "Arabic", "Russian"]);
    expect(languageName("tl")).toBe("Tagalog");
    expect(languageName("qq")).toBe("qq");
    for (const id of STUDY_LANGUAGES) expect(toLanguageId(languageName(id))).toBe(id);
  });
});
