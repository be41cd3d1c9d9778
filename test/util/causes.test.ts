import { describe, expect, it } from "vitest";
import { Causes } from "../../src/util/causes.ts";

describe("Causes", () => {
  it("groups identical causes, most frequent first, and folds the tail into one line", () => {
    const causes = new Causes();
    for (let i = 0; i < 3; i++) causes.add("http://127.0.0.1:9: ECONNREFUSED (connection refused)");
    causes.add("http://127.0.0.1:9: HTTP 500 oops");
    causes.add("http://127.0.0.1:9: HTTP 400 bad");
    expect(causes.total).toBe(5);
    expect(causes.lines(2)).toEqual(["3 × http://127.0.0.1:9: ECONNREFUSED (connection refused)", "1 × http://127.0.0.1:9: HTTP 400 bad", "1 × other causes"]);
  });

  it("groups long messages by their first 160 characters", () => {
    const causes = new Causes();
    causes.add(`HTTP 500 ${"x".repeat(200)} request 1`);
    causes.add(`HTTP 500 ${"x".repeat(200)} request 2`);
    expect(causes.lines()).toHaveLength(1);
    expect(causes.lines()[0]).toMatch(/^2 × HTTP 500 x+…$/);
  });
});
