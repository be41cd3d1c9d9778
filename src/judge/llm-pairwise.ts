import { createHash } from "node:crypto";
import { STUDY_LANGUAGES } from "../datasets/languages.ts";
import { createJudgeCaller, endpointConfig, judgeIdentity, fillTemplate, lastMarker, type JudgeEndpoint } from "./llm.ts";
import type { JudgeContext, PreferenceJudge } from "./types.ts";

export const DEFAULT_PAIRWISE_TEMPLATE = `You compare two AI assistant answers to the same user request, written in {language}.
Judge helpfulness, correctness and fluency in that language; ignore the order of the answers and their length.

[REQUEST]
{prompt}
[/REQUEST]

[ANSWER A]
{response_a}
[/ANSWER A]

[ANSWER B]
{response_b}
[/ANSWER B]

Explain briefly, then end with exactly one verdict: [[A]] if A is better, [[B]] if B is better, [[C]] for a tie.`;

/**
 * An LLM preference judge, asked in both orders: a win needs both orders to agree; a tie or an order-dependent
 * (inconsistent) pair counts as a tie. The verdict records whether the two orders agreed.
 */
export interface PairwiseOptions {
  template?: string;
  /** Ask one order per prompt, chosen by a seeded hash of the prompt (AlpacaEval's cheaper design), instead of both. */
  singleOrderSeed?: number;
}

export function createLlmPairwiseJudge(endpoint: JudgeEndpoint, options: PairwiseOptions = {}): PreferenceJudge {
  const template = options.template ?? DEFAULT_PAIRWISE_TEMPLATE;
  const { ask, probe } = createJudgeCaller(endpoint);
  const verdict = (prompt: string, first: string, second: string, language: string, context: JudgeContext | undefined) =>
    ask(fillTemplate(template, { prompt, response_a: first, response_b: second, language }), (reply) => lastMarker(reply, ["A", "B", "C"] as const), context);
  return {
    kind: "preference",
    name: "llm-pairwise",
    calls: options.singleOrderSeed !== undefined ? 1 : 2,
    languages: STUDY_LANGUAGES,
    config: JSON.stringify({ ...endpointConfig(endpoint), template, singleOrderSeed: options.singleOrderSeed ?? null }),
    ...judgeIdentity(endpoint),
    probe,
    async compare({ prompt, a, b, language }, context) {
      if (options.singleOrderSeed !== undefined) {
        const candidateSecond = createHash("sha256").update(`${options.singleOrderSeed}\u0000${prompt}`).digest()[0]! & 1;
        const v = candidateSecond ? await verdict(prompt, b, a, language, context) : await verdict(prompt, a, b, language, context);
        if (v === undefined) return { winner: undefined };
        const mapped = candidateSecond ? (v === "A" ? "B" : v === "B" ? "A" : "C") : v;
        return { winner: mapped === "C" ? "tie" : mapped };
      }
      const [forward, backward] = await Promise.all([verdict(prompt, a, b, language, context), verdict(prompt, b, a, language, context)]);
      if (forward === undefined || backward === undefined) return { winner: undefined };
      // In the second order the candidate is B: map it back to the candidate's point of view.
      const swapped = backward === "A" ? "B" : backward === "B" ? "A" : "C";
      const consistent = forward === swapped;
      if (!consistent || forward === "C") return { winner: "tie", consistent };
      return { winner: forward, consistent };
    },
  };
}
