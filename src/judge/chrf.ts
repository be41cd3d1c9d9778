import type { PreferenceJudge } from "./types.ts";

/**
 * chrF (Popović 2015, as sacrebleu computes it by default): character n-grams of orders 1–6 with whitespace
 * removed, precision and recall averaged over orders, then F-beta with beta = 2 (recall weighted more). 0–100.
 */
export function chrF(hypothesis: string, reference: string, maxOrder = 6, beta = 2): number {
  const hyp = [...hypothesis.replace(/\s+/g, "")];
  const ref = [...reference.replace(/\s+/g, "")];
  let precision = 0;
  let recall = 0;
  let orders = 0;
  for (let n = 1; n <= maxOrder; n++) {
    const h = ngrams(hyp, n);
    const r = ngrams(ref, n);
    const hTotal = hyp.length - n + 1;
    const rTotal = ref.length - n + 1;
    if (hTotal <= 0 || rTotal <= 0) continue;
    let matches = 0;
    for (const [gram, count] of h) matches += Math.min(count, r.get(gram) ?? 0);
    precision += matches / hTotal;
    recall += matches / rTotal;
    orders++;
  }
  if (orders === 0) return 0;
  precision /= orders;
  recall /= orders;
  if (precision + recall === 0) return 0;
  return (100 * (1 + beta * beta) * precision * recall) / (beta * beta * precision + recall);
}

function ngrams(chars: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const gram = chars.slice(i, i + n).join("");
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

/** Scores closer than this (chrF points) are a tie. */
export const CHRF_TIE_MARGIN = 1;

export const chrfJudge: PreferenceJudge = {
  kind: "preference",
  name: "chrf",
  calls: 0,
  languages: ["en", "hi", "fr", "es", "ar", "ru"],
  proxyNote: "chrF against the Dolly reference answers: a proxy for preference, not a judge of quality",
  async compare({ a, b, reference }) {
    if (reference === undefined) return { winner: undefined };
    const diff = chrF(a, reference) - chrF(b, reference);
    return { winner: Math.abs(diff) < CHRF_TIE_MARGIN ? "tie" : diff > 0 ? "A" : "B" };
  },
};
