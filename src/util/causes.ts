/**
 * Failure causes grouped for a summary line: "12 failed: 10 × http://127.0.0.1:9: ECONNREFUSED (…); 2 × …".
 * Messages of one cause differ at most in a reply body's tail, so the first 160 characters group them.
 */
export class Causes {
  private readonly counts = new Map<string, number>();

  add(message: string): void {
    const cause = message.length > 160 ? `${message.slice(0, 160)}…` : message;
    this.counts.set(cause, (this.counts.get(cause) ?? 0) + 1);
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** The most frequent causes first, `limit` of them, then how many others. */
  lines(limit = 5): string[] {
    const sorted = [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const shown = sorted.slice(0, limit).map(([cause, n]) => `${n} × ${cause}`);
    const rest = sorted.slice(limit).reduce((sum, [, n]) => sum + n, 0);
    return rest ? [...shown, `${rest} × other causes`] : shown;
  }

  merge(other: Causes): this {
    for (const [cause, n] of other.counts) this.counts.set(cause, (this.counts.get(cause) ?? 0) + n);
    return this;
  }
}
