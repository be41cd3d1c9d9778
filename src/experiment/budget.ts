/**
 * Caps on paid work. Each request is admitted before it is sent, with its estimated cost, so a run stops before
 * a cap is exceeded rather than after; what was refused is left undone and unrecorded, for a rerun with a
 * larger budget.
 */
export interface BudgetLimits {
  judgeCalls?: number;
  tokens?: number;
}

export class Budget {
  judgeCalls = 0;
  tokens = 0;
  refused = 0;

  constructor(readonly limits: BudgetLimits) {}

  admit(cost: { judgeCalls?: number; tokens: number }): boolean {
    const calls = this.judgeCalls + (cost.judgeCalls ?? 0);
    const tokens = this.tokens + cost.tokens;
    if ((this.limits.judgeCalls !== undefined && calls > this.limits.judgeCalls) || (this.limits.tokens !== undefined && tokens > this.limits.tokens)) {
      this.refused++;
      return false;
    }
    this.judgeCalls = calls;
    this.tokens = tokens;
    return true;
  }
}

/**
 * A rough token count for budgets and the dry run: UTF-8 bytes / 4 (about right for English with BPE
 * vocabularies, and it grows with the longer encodings of Devanagari, Arabic and Cyrillic as their token counts do).
 */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / 4);
}

/** Judge prompts wrap the texts in instructions (about this many tokens) and replies are capped at 512. */
const JUDGE_OVERHEAD_TOKENS = 400;
const JUDGE_REPLY_TOKENS = 512;

/** The estimated tokens of one judge call whose shown texts (prompt, completions) come to `contentTokens`. */
export function judgeCallTokens(contentTokens: number): number {
  return contentTokens + JUDGE_OVERHEAD_TOKENS + JUDGE_REPLY_TOKENS;
}
