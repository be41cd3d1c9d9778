import { describe, expect, it } from "vitest";
import { createProgress } from "../../src/cli/progress.ts";

/** A non-TTY stream that keeps what is written. */
function capture(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (text: string) => lines.push(text.trim()) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe("progress off a TTY", () => {
  it("starts each step from zero and never counts past its total", async () => {
    const { stream, lines } = capture();
    const progress = createProgress({ stream, unit: "items", periodicMs: 5 });
    progress.start(2, "generate a");
    progress.tick(2, "");
    progress.start(3, "generate b");
    progress.tick(1, "");
    await new Promise((r) => setTimeout(r, 30));
    expect(lines.at(-1)).toMatch(/^generate b: 1\/3 \(33%\)/);
    progress.tick(10, "");
    await new Promise((r) => setTimeout(r, 30));
    progress.stop();
    expect(lines.at(-1)).toMatch(/^generate b: 3\/3 \(100%\)/);
  });
});
