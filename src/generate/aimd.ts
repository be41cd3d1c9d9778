/**
 * Additive-increase / multiplicative-decrease of the in-flight limit: halve on a rate limit (429), and grow by
 * one after `max` successes in a row, back up to `max`.
 */
export class AimdLimit {
  private streak = 0;
  current: number;

  constructor(readonly max: number) {
    this.current = max;
  }

  onRateLimited(): number {
    this.streak = 0;
    this.current = Math.max(1, Math.floor(this.current / 2));
    return this.current;
  }

  onSuccess(): number {
    if (this.current < this.max && ++this.streak >= this.max) {
      this.streak = 0;
      this.current++;
    }
    return this.current;
  }
}
