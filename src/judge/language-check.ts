import { franc } from "franc-min";
import { toLanguageId } from "../datasets/languages.ts";
import type { LanguageId } from "../datasets/types.ts";

/** Below this many characters language identification is a guess; such outputs are left out of the share. */
const MIN_CHARACTERS = 20;

/**
 * The candidates franc chooses among: the study's six languages and major languages a model might drift into. Close
 * neighbours are left out on purpose: on short texts franc takes Russian for Bulgarian, Ukrainian or Serbian, and
 * Hindi for Bhojpuri, Magahi or Maithili (on the hand-checked stand-in red-team prompts: Russian 40/60 and Hindi
 * 48/60 right without this list, 60/60 each with it; the others 56–60/60).
 */
const CANDIDATES = ["eng", "hin", "fra", "spa", "arb", "rus", "deu", "ita", "por", "nld", "pol", "tur", "cmn", "jpn", "ind", "vie"];

/** The language a completion is written in (franc, trigram-based), or undefined when too short or unknown. */
export function detectLanguage(text: string): LanguageId | undefined {
  if (text.trim().length < MIN_CHARACTERS) return undefined;
  const code = franc(text, { minLength: MIN_CHARACTERS, only: CANDIDATES });
  return code === "und" ? undefined : toLanguageId(code);
}

/** Share of completions written in their prompt's language, among those long enough to identify. */
export function languageMatchShare(completions: readonly { language: LanguageId; output: string }[]): { share: number; identified: number } {
  let identified = 0;
  let matching = 0;
  for (const c of completions) {
    const detected = detectLanguage(c.output);
    if (detected === undefined) continue;
    identified++;
    if (detected === c.language) matching++;
  }
  return { share: identified ? matching / identified : NaN, identified };
}
