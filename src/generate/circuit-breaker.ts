/**
 * Stops sending to an endpoint that keeps failing at the connection level (refused, reset, DNS, TLS): after
 * `threshold` such failures in a row it opens, and requests fail at once instead of each retrying to its timeout.
 * After `cooldownMs` one trial request is let through; its success closes the breaker (a restarted server).
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;
  /** The cause of the last failure, for the message of requests refused while open. */
  lastCause = "";

  constructor(
    readonly threshold = 3,
    readonly cooldownMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  get isOpen(): boolean {
    return this.openedAt !== undefined;
  }

  /** Whether a request may be sent now (open: only the one trial after the cool-down). No side effect. */
  canSend(): boolean {
    return this.openedAt === undefined || (!this.trialInFlight && this.now() - this.openedAt >= this.cooldownMs);
  }

  /** A request is being sent (when open, it is the trial). */
  sending(): void {
    if (this.openedAt !== undefined) this.trialInFlight = true;
  }

  /** The server answered (any HTTP status: it is there). */
  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  /** A connection-level failure; other failures (HTTP errors, timeouts of a slow model) are not counted. */
  failure(cause: string): void {
    this.lastCause = cause;
    this.failures++;
    if (this.trialInFlight || this.failures >= this.threshold) this.openedAt = this.now();
    this.trialInFlight = false;
  }

  describe(): string {
    return `not sent after ${this.failures} connection failures in a row (last: ${this.lastCause})`;
  }
}
