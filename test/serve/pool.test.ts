import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { runPool } from "../../src/serve/pool.ts";

describe("runPool", () => {
  it("keeps N items in work, takes them in order, and gives each worker's items its slot", async () => {
    let inWork = 0;
    let most = 0;
    const started: string[] = [];
    const slots = new Map<string, number>();
    await runPool(["a", "b", "c", "d", "e"], 2, async (item, slot) => {
      started.push(item);
      slots.set(item, slot);
      most = Math.max(most, ++inWork);
      await sleep(item === "a" ? 40 : 10);
      inWork--;
    });
    expect(most).toBe(2);
    expect(started).toEqual(["a", "b", "c", "d", "e"]);
    expect(slots.get("a")).toBe(0);
    expect(slots.get("b")).toBe(1);
    // While a is slow, slot 1 takes the next ones.
    expect(slots.get("c")).toBe(1);
    expect(new Set(slots.values())).toEqual(new Set([0, 1]));
  });

  it("stops taking items once stopped, and after a throw, which it rethrows when the items in work have ended", async () => {
    const stop = new AbortController();
    const done: number[] = [];
    await runPool([1, 2, 3, 4], 1, async (n) => {
      done.push(n);
      if (n === 2) stop.abort();
    }, stop.signal);
    expect(done).toEqual([1, 2]);

    const ended: number[] = [];
    await expect(
      runPool([1, 2, 3, 4, 5], 2, async (n) => {
        if (n === 1) throw new Error("boom");
        await sleep(20);
        ended.push(n);
      }),
    ).rejects.toThrow("boom");
    expect(ended).toEqual([2]);
  });
});
