import { describe, expect, it } from "vitest";
import type { GenerationRecord } from "../../src/generate/index.ts";
import type { JudgmentRecord } from "../../src/judge/run.ts";
import { judgeDiagnostics, lengthControlled, lengthsOf, panelAgreement } from "../../src/report/judge-quality.ts";

const harm = (judge: string, id: string, harmful: boolean | undefined, language = "en"): JudgmentRecord => ({
  key: `${judge}-${id}`, status: "done", judge, model: "m", dataset: "aya-redteaming", language, id, time: "",
  ...(harmful === undefined ? { unparsable: true } : { harmful }),
});
const pref = (id: string, winner: "A" | "B" | "tie", consistent?: boolean): JudgmentRecord => ({
  key: id, status: "done", judge: "p", model: "m", baseline: "base", dataset: "dolly-200", language: "en", id, time: "", winner, ...(consistent !== undefined ? { consistent } : {}),
});
const output = (model: string, id: string, text: string) => ({ model, dataset: "dolly-200", language: "en", id, output: text }) as GenerationRecord;

describe("panelAgreement", () => {
  it("two judges: Cohen's kappa by hand, and the prompts they disagree on", () => {
    // A: H H S S, B: H S S S → p_o = 3/4; p_e = ½·¼ + ½·¾ = ½; κ = (¾ − ½)/(1 − ½) = 0.5.
    const a = ["1", "2", "3", "4"].map((id, i) => harm("a", id, i < 2));
    const b = ["1", "2", "3", "4"].map((id, i) => harm("b", id, i < 1));
    const panel = panelAgreement([{ label: "a", judgments: a }, { label: "b", judgments: b }], ["en", "hi"])!;
    expect(panel.statistic).toBe("Cohen's kappa");
    expect(panel.languages.en).toEqual({ value: 0.5, n: 4 });
    expect(panel.languages.hi).toEqual({ value: null, n: 0 });
    expect(panel.disagreements).toEqual([{ model: "m", language: "en", id: "2", verdicts: { a: "harmful", b: "safe" } }]);
    expect(panel.disagreements_total).toBe(1);
  });

  it("an unparsable verdict does not count as a rating; three judges use Krippendorff's alpha", () => {
    const a = [harm("a", "1", true), harm("a", "2", undefined)];
    const b = [harm("b", "1", true), harm("b", "2", false)];
    const c = [harm("c", "1", true), harm("c", "2", false)];
    const panel = panelAgreement([{ label: "a", judgments: a }, { label: "b", judgments: b }, { label: "c", judgments: c }], ["en"])!;
    expect(panel.statistic).toBe("Krippendorff's alpha (nominal)");
    // Prompt 1: three "harmful"; prompt 2: two "safe" (a's reply unparsable): no disagreement, α = 1.
    expect(panel.languages.en).toEqual({ value: 1, n: 2 });
    expect(panel.disagreements_total).toBe(0);
    expect(panelAgreement([{ label: "a", judgments: a }], ["en"])).toBeUndefined();
  });
});

describe("judgeDiagnostics", () => {
  it("position inconsistency, ties and the lengths of preferred vs other answers, by hand", () => {
    const judgments = [pref("1", "A", true), pref("2", "B", false), pref("3", "tie", true)];
    const generations = new Map([
      ["m", [output("m", "1", "x".repeat(10)), output("m", "2", "xxx"), output("m", "3", "x")]],
      ["base", [output("base", "1", "xxxxx"), output("base", "2", "x".repeat(9)), output("base", "3", "x")]],
    ]);
    const lengths = lengthsOf(judgments, generations);
    const d = judgeDiagnostics(judgments, lengths, ["en"]);
    // 1 of 3 pairs order-inconsistent; 1 of 3 ties; preferred: 10 (A wins on 1), 9 (B wins on 2) → 9.5; others 5, 3 → 4.
    expect(d.en).toEqual({ position_inconsistency: 33.33, tie_rate: 33.33, preferred_length: 9.5, other_length: 4 });
    expect(d.overall).toEqual(d.en);
  });

  it("the length-controlled win rate is null without lengths, and equals the raw rate when lengths do not vary", () => {
    const judgments = [pref("1", "A"), pref("2", "B"), pref("3", "A"), pref("4", "tie")];
    expect(lengthControlled(judgments, new Map())).toBeNull();
    const same = new Map(judgments.map((j) => [j, { candidate: 5, baseline: 5 }]));
    expect(lengthControlled(judgments, same)).toBeCloseTo(62.5, 6); // (1 + 0 + 1 + ½)/4
  });
});
