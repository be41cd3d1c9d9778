import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/generate/circuit-breaker.ts";

describe("CircuitBreaker", () => {
  it("opens after `threshold` connection failures in a row, and a success in between resets the count", () => {
    let now = 0;
    const breaker = new CircuitBreaker(3, 1000, () => now);
    breaker.failure("ECONNREFUSED");
    breaker.failure("ECONNREFUSED");
    breaker.success();
    breaker.failure("ECONNREFUSED");
    breaker.failure("ECONNREFUSED");
    expect(breaker.canSend()).toBe(true);
    breaker.failure("ECONNREFUSED");
    expect(breaker.isOpen).toBe(true);
    expect(breaker.canSend()).toBe(false);
    expect(breaker.describe()).toBe("not sent after 3 connection failures in a row (last: ECONNREFUSED)");
  });

  it("after the cool-down lets exactly one trial through: its success closes it, its failure reopens it", () => {
    let now = 0;
    const breaker = new CircuitBreaker(1, 1000, () => now);
    breaker.failure("ECONNRESET");
    now = 999;
    expect(breaker.canSend()).toBe(false);
    now = 1000;
    expect(breaker.canSend()).toBe(true);
    breaker.sending();
    expect(breaker.canSend()).toBe(false); // one trial at a time
    breaker.failure("ECONNRESET");
    expect(breaker.canSend()).toBe(false);
    now = 2000;
    breaker.sending();
    breaker.success();
    expect(breaker.isOpen).toBe(false);
    expect(breaker.canSend()).toBe(true);
  });
});
