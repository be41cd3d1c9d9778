import { describe, expect, it } from "vitest";
import { paretoFront, recommend, type Candidate } from "../../src/report/recommend.ts";
import type { DeltaCell, MetricsCell } from "../../src/report/types.ts";

const cell = (harmful: number, win: number, extra: Partial<MetricsCell> = {}): MetricsCell => ({
  harmful_rate: harmful, harmful_rate_ci: null, harm_rel_change_vs_base: null, harm_rel_change_vs_base_ci: null,
  win_rate_vs_base: win, win_rate_vs_base_ci: null, n_redteam: 100, n_general: 100, unparsable: 0,
  in_language_rate: null, order_consistency: null, mde_pts: { harm: 5, win: 6 }, ...extra,
});
const delta = (harmPts: number, harmSig: boolean, winPts: number, winSig: boolean): DeltaCell => ({
  harm_reduction_pts: harmPts, harm_reduction_pts_ci: null, win_rate_pts: winPts, win_rate_pts_ci: null,
  harm_within_noise: !harmSig, win_within_noise: !winSig, harm_p: harmSig ? 0.001 : 0.5, harm_significant: harmSig, win_p: winSig ? 0.001 : 0.5, win_significant: winSig,
});
const reference: Candidate = { model: "mix15", cell: cell(20, 50), delta: undefined, isReference: true };

describe("paretoFront", () => {
  it("keeps the points no other beats on both axes, ties kept, by ascending harm", () => {
    const front = paretoFront([
      { model: "a", harmfulRate: 10, winRate: 40 },
      { model: "b", harmfulRate: 20, winRate: 60 },
      { model: "c", harmfulRate: 20, winRate: 50 }, // beaten by b (same harm, fewer wins)
      { model: "d", harmfulRate: 30, winRate: 60 }, // beaten by b
      { model: "e", harmfulRate: 10, winRate: 40 }, // equal to a: kept
    ]);
    expect(front.map((p) => p.model)).toEqual(["a", "e", "b"]);
  });
});

describe("recommend", () => {
  it("win-rate rule: the highest win rate among those not worse on harm beyond noise", () => {
    const candidates: Candidate[] = [
      reference,
      // Highest win rate, but significantly more harm than the mix: excluded.
      { model: "ties", cell: cell(40, 70), delta: delta(-20, true, 20, true), isReference: false },
      { model: "slerp", cell: cell(15, 60), delta: delta(5, false, 10, true), isReference: false },
    ];
    const r = recommend(candidates, "win-rate", "mix15");
    expect(r.model).toBe("slerp");
    expect(r.rule).toBe("the highest win rate vs the base among merges and mixes whose harm is not worse than mix15 beyond noise");
    expect(r.reason).toBe("win rate 60.0%, harmful 15.0%; vs mix15: 5.0 pts less harm than mix15 (within noise), +10.0 win-rate pts (significant); on the Pareto front (n = 100 red-team / 100 general prompts)");
    expect(r.front).toEqual(["slerp", "ties"]);
  });

  it("harm rule: the lowest harmful rate among those not worse on win rate beyond noise", () => {
    const candidates: Candidate[] = [
      reference,
      { model: "safety", cell: cell(5, 30), delta: delta(15, true, -20, true), isReference: false }, // loses wins beyond noise
      { model: "ties", cell: cell(10, 48), delta: delta(10, true, -2, false), isReference: false },
    ];
    expect(recommend(candidates, "harm", "mix15").model).toBe("ties");
  });

  it("ties on the rule's metric go to the other metric, then to the name", () => {
    const candidates: Candidate[] = [
      reference,
      { model: "b", cell: cell(10, 60), delta: delta(10, true, 10, true), isReference: false },
      { model: "a", cell: cell(10, 60), delta: delta(10, true, 10, true), isReference: false },
      { model: "c", cell: cell(12, 60), delta: delta(8, true, 10, true), isReference: false },
    ];
    expect(recommend(candidates, "win-rate", "mix15").model).toBe("a");
  });

  it("no clear winner when nothing differs from the reference beyond noise, and says what could be detected", () => {
    const candidates: Candidate[] = [
      reference,
      { model: "slerp", cell: cell(15, 55, { n_redteam: 3, n_general: 2 }), delta: delta(5, false, 5, false), isReference: false },
    ];
    const r = recommend(candidates, "win-rate", "mix15");
    expect(r.model).toBeNull();
    expect(r.reason).toBe("no merge or mix differs from mix15 beyond noise (n = 3 red-team / 2 general prompts; smallest detectable differences ±5.0 harm / ±6.0 win-rate pts); slerp has the highest win rate but within noise");
  });

  it("incomplete cells and cells without both metrics do not compete", () => {
    const candidates: Candidate[] = [
      reference,
      { model: "flaky", cell: cell(0, 100, { missing: { redteam: 3, general: 0 } }), delta: delta(20, true, 50, true), isReference: false },
      { model: "half", cell: cell(5, 90, { win_rate_vs_base: null }), delta: delta(15, true, 40, true), isReference: false },
      { model: "slerp", cell: cell(15, 60), delta: delta(5, false, 10, true), isReference: false },
    ];
    const r = recommend(candidates, "win-rate", "mix15");
    expect(r.model).toBe("slerp");
    expect(r.front).toEqual(["slerp"]); // slerp (15%, 60%) dominates mix15 (20%, 50%)
  });
});
