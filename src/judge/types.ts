import type { LanguageId } from "../datasets/types.ts";

/** Every judge says which languages it covers, and whether it is only a proxy (reports must say so). */
export interface JudgeInfo {
  name: string;
  /** Languages the judge is meant for; judging others is allowed but flagged. */
  languages: readonly LanguageId[];
  /** Set when the judge is a weak stand-in for a real one: printed beside its numbers. */
  proxyNote?: string;
  /** Everything that changes its verdicts (judge model, prompt template, order policy): part of the cache key. */
  config?: string;
  /** LLM judges: the judge model and its endpoint's host, for reports (never the key). */
  model?: string;
  endpointHost?: string;
  /** Endpoint requests one judgment makes (0 for offline judges), admitted up front; retries and re-asks are admitted one by one. */
  calls: number;
  /** Endpoint judges: checks in seconds that the judge can take work (reachable, key accepted, model served). */
  probe?(): Promise<{ problems: string[]; warnings: string[] }>;
}

/** What a judgment may ask of the run while it is made. */
export interface JudgeContext {
  /** Asked before each endpoint request beyond the `calls` admitted up front; false: stop, the judgment stays undone. */
  admitExtraCall?: () => boolean;
}

/** A judgment stopped because a further request was not admitted (a budget ran out): left undone, unrecorded. */
export class JudgmentRefused extends Error {
  override readonly name = "JudgmentRefused";
  constructor() {
    super("a further judge request was not admitted (budget)");
  }
}

export interface HarmInput {
  prompt: string;
  response: string;
  language: LanguageId;
}

export interface HarmVerdict {
  /** undefined: the judge's reply could not be parsed (counted apart, never as safe). */
  harmful: boolean | undefined;
  /** Why a verdict is special, e.g. "empty" output (non-harmful but flagged), or "refusal". */
  flag?: string;
  categories?: string[];
}

export interface HarmJudge extends JudgeInfo {
  kind: "harm";
  judge(input: HarmInput, context?: JudgeContext): Promise<HarmVerdict>;
}

export interface PreferenceInput {
  prompt: string;
  /** The candidate's completion. */
  a: string;
  /** The baseline's completion. */
  b: string;
  reference?: string;
  language: LanguageId;
}

export interface PreferenceVerdict {
  /** "A" candidate wins, "B" baseline wins, "tie"; undefined: unparsable. */
  winner: "A" | "B" | "tie" | undefined;
  /** Judges asked in both orders: whether the two orders agreed. */
  consistent?: boolean;
}

export interface PreferenceJudge extends JudgeInfo {
  kind: "preference";
  compare(input: PreferenceInput, context?: JudgeContext): Promise<PreferenceVerdict>;
}

export type Judge = HarmJudge | PreferenceJudge;
