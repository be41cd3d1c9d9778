import { readFile } from "node:fs/promises";
import { franc } from "franc-min";
import { beforeAll, describe, expect, it } from "vitest";
import { loadDataset, STUDY_LANGUAGES, toLanguageId, type LanguageId, type Sample } from "../../src/datasets/index.ts";
import { isRefusal, normalizeForMatching, REFUSAL_PHRASES } from "../../src/judge/refusal.ts";

const DIR = "datasets/stand-in";
const SPLITS = ["train", "eval"] as const;
type Split = (typeof SPLITS)[number];
const SIX = [...STUDY_LANGUAGES].sort();

const sets: Record<"aya" | "dolly", Record<Split, Sample[]>> = { aya: { train: [], eval: [] }, dolly: { train: [], eval: [] } };

beforeAll(async () => {
  for (const split of SPLITS) {
    for (const [set, file] of [["aya", `aya-redteaming-${split}.jsonl`], ["dolly", `dolly-200-${split}.jsonl`]] as const) {
      const { samples, problems } = await loadDataset(`${DIR}/${file}`);
      expect(problems, file).toEqual([]);
      sets[set][split] = samples;
    }
  }
});

const all = (set: "aya" | "dolly") => [...sets[set].train, ...sets[set].eval];
const sourceIds = (samples: Sample[]) => [...new Set(samples.map((s) => s.sourceId))].sort();

/**
 * franc-min among the study's six languages. Unrestricted, franc-min takes many short Russian sentences for
 * Bulgarian, Ukrainian or Serbian and Hindi ones for Bhojpuri or Magahi; the question here is whether a row is in
 * the language it says rather than in one of the other five (a mislabelled or swapped translation).
 */
const FRANC_CODES = ["eng", "hin", "fra", "spa", "arb", "rus"];
const detect = (text: string) => toLanguageId(franc(text, { minLength: 1, only: FRANC_CODES }));
const MIN_AGREEMENT = 0.9;

function agreementPerLanguage(rows: { language: LanguageId; text: string }[]): Record<string, number> {
  const share: Record<string, number> = {};
  for (const language of SIX) {
    const mine = rows.filter((r) => r.language === language);
    share[language] = mine.filter((r) => detect(r.text) === language).length / mine.length;
  }
  return share;
}

const SCRIPT: Record<string, RegExp> = {
  en: /\p{Script=Latin}/u,
  fr: /\p{Script=Latin}/u,
  es: /\p{Script=Latin}/u,
  hi: /\p{Script=Devanagari}/u,
  ar: /\p{Script=Arabic}/u,
  ru: /\p{Script=Cyrillic}/u,
};
/** Letters not written in the language's script (digits, punctuation and combining marks are not letters). */
const foreignLetters = (text: string, language: LanguageId) => [...text].filter((c) => /\p{L}/u.test(c) && !SCRIPT[language]!.test(c)).join("");

describe("stand-in sets: files and splits", () => {
  it("have 40 source ids × 6 languages in train and 20 × 6 in eval, one row per source id and language", () => {
    for (const set of ["aya", "dolly"] as const) {
      for (const [split, n] of [["train", 40], ["eval", 20]] as const) {
        const samples = sets[set][split];
        expect(samples, `${set} ${split}`).toHaveLength(n * 6);
        expect(sourceIds(samples)).toHaveLength(n);
        for (const id of sourceIds(samples)) {
          expect(samples.filter((s) => s.sourceId === id).map((s) => s.language).sort(), `${set} ${split} ${id}`).toEqual(SIX);
        }
      }
    }
  });

  it("split by source id: the splits are disjoint and together cover rt-001…rt-060 and 1001…1060", () => {
    const pad = (i: number) => String(i).padStart(3, "0");
    const expected = {
      aya: Array.from({ length: 60 }, (_, i) => `rt-${pad(i + 1)}`),
      dolly: Array.from({ length: 60 }, (_, i) => String(1001 + i)),
    };
    for (const set of ["aya", "dolly"] as const) {
      const train = sourceIds(sets[set].train);
      const evalIds = sourceIds(sets[set].eval);
      expect(train.filter((id) => evalIds.includes(id as string))).toEqual([]);
      expect([...train, ...evalIds].sort()).toEqual(expected[set]);
      // held-out ids spread over the set, not one block at either end
      const numbers = evalIds.map((id) => Number(String(id).replace(/^rt-/, "")) % 1000);
      expect(Math.min(...numbers)).toBeLessThanOrEqual(5);
      expect(Math.max(...numbers)).toBeGreaterThanOrEqual(55);
      expect(numbers.filter((n) => n <= 30).length).toBeGreaterThanOrEqual(8);
    }
  });

  it("Aya rows: a published harm category list, global, the English prompt as semantic translation", () => {
    const published = new Set(["Bullying & Harassment", "Discrimination & Injustice", "Profanity"]);
    const english = new Map(all("aya").filter((s) => s.language === "en").map((s) => [s.sourceId, s.prompt]));
    for (const s of all("aya")) {
      expect(s.kind).toBe("aya-redteaming");
      const categories = s.meta.harm_category as string[];
      expect(categories.length).toBeGreaterThan(0);
      expect(categories.every((c) => published.has(c)), categories.join()).toBe(true);
      expect(s.meta.global_or_local).toBe("global");
      expect(String(s.meta.explanation)).toMatch(/^Synthetic stand-in[,:] /);
      if (s.language === "en") {
        expect(s.meta).toMatchObject({ literal_translation: "", semantic_translation: "" });
        const words = s.prompt.split(/\s+/).length;
        expect(words, s.prompt).toBeGreaterThanOrEqual(8);
        expect(words, s.prompt).toBeLessThanOrEqual(25);
      } else {
        expect(s.meta.semantic_translation).toBe(english.get(s.sourceId));
        expect(String(s.meta.literal_translation).length).toBeGreaterThan(0);
      }
    }
    // the translations of one prompt share its categories
    for (const id of sourceIds(all("aya"))) {
      const lists = new Set(all("aya").filter((s) => s.sourceId === id).map((s) => JSON.stringify(s.meta.harm_category)));
      expect(lists.size, String(id)).toBe(1);
    }
  });

  it("Dolly rows: a reference answer, the script of the language, unique ids", () => {
    const script: Record<string, string> = { en: "Latn", fr: "Latn", es: "Latn", hi: "Deva", ar: "Arab", ru: "Cyrl" };
    for (const s of all("dolly")) {
      expect(s.kind).toBe("dolly-200");
      expect(s.reference?.length, s.prompt).toBeGreaterThan(0);
      expect(s.meta.script).toBe(script[s.language]);
    }
    const ids = all("dolly").map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("no duplicate prompts or answers, and none copied from the bundled samples", async () => {
    const samplePrompts = [
      ...(await loadDataset("datasets/aya-redteaming-sample.jsonl")).samples,
      ...(await loadDataset("datasets/dolly-200-sample.jsonl")).samples,
    ].map((s) => s.prompt);
    const texts = {
      prompts: [...all("aya"), ...all("dolly")].map((s) => s.prompt),
      references: all("dolly").map((s) => s.reference),
    };
    for (const [name, list] of Object.entries(texts)) {
      const seen = new Set<string>();
      const duplicates = list.filter((t) => (seen.has(t!) ? true : (seen.add(t!), false)));
      expect(duplicates, name).toEqual([]);
    }
    expect(texts.prompts.filter((p) => samplePrompts.includes(p))).toEqual([]);
  });
});

describe("stand-in sets: languages", () => {
  it("every text is written in its language's script", () => {
    const offenders: string[] = [];
    for (const s of [...all("aya"), ...all("dolly")]) {
      for (const text of [s.prompt, s.reference ?? ""]) if (foreignLetters(text, s.language)) offenders.push(`${s.language}: ${text}`);
    }
    expect(offenders).toEqual([]);
  });

  it(`franc-min agrees with the labelled language for at least ${MIN_AGREEMENT * 100}% of each language's texts`, () => {
    const checks = {
      "red-team prompts": all("aya").map((s) => ({ language: s.language, text: s.prompt })),
      // the short questions alone are often too short for trigrams: judged with their answers
      "Dolly instructions with answers": all("dolly").map((s) => ({ language: s.language, text: `${s.prompt} ${s.reference}` })),
    };
    for (const [name, rows] of Object.entries(checks)) {
      const share = agreementPerLanguage(rows);
      for (const language of SIX) expect(share[language], `${name}, ${language}`).toBeGreaterThanOrEqual(MIN_AGREEMENT);
    }
  });
});

describe("stand-in prompts and the refusal judge", () => {
  it("no red-team prompt (or Dolly instruction or answer) already reads as a refusal", () => {
    const offenders = [...all("aya"), ...all("dolly")].flatMap((s) => [s.prompt, s.reference ?? ""]).filter((t) => isRefusal(t));
    expect(offenders).toEqual([]);
  });
});
