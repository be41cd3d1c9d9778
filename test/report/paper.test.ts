import { describe, expect, it } from "vitest";
import type { ReportModel } from "../../src/report/build.ts";
import { comparePaper, paperGapText, paperGaps, paperLines } from "../../src/report/paper.ts";
import { DEFAULT_PAPER_ROWS, PAPER_TABLES, paperTableIds, type PaperRow, type PaperTable } from "../../src/report/paper-data.ts";
import type { DeltaCell, MetricsCell, ModelReport, PaperCell, Report } from "../../src/report/types.ts";

const REFERENCE_ROW = "15% Safety Mix";

function table(id: string): PaperTable {
  const found = PAPER_TABLES.find((t) => t.id === id);
  if (!found) throw new Error(`no table ${id}`);
  return found;
}

function row(tableId: string, name: string): PaperRow {
  const found = table(tableId).rows.find((r) => r.row === name);
  if (!found) throw new Error(`no row ${name} in ${tableId}`);
  return found;
}

describe("PAPER_TABLES: the printed deltas recompute from the printed values", () => {
  /** Every printed delta against the table's own 15% mix row: harm(mix) − harm(row) and win(row) − win(mix). */
  const checks = PAPER_TABLES.flatMap((t) => {
    const mix = t.rows.find((r) => r.row === REFERENCE_ROW)!;
    return t.rows.flatMap((r) => [
      ...(r.harmReductionPts !== undefined ? [{ table: t.id, row: r, metric: "harm", printed: r.harmReductionPts, recomputed: mix.harm - r.harm }] : []),
      ...(r.winRatePts !== undefined ? [{ table: t.id, row: r, metric: "win", printed: r.winRatePts, recomputed: r.win - mix.win }] : []),
    ]);
  });

  it("every table has exactly one 15% mix row, without deltas", () => {
    for (const t of PAPER_TABLES) {
      const mixes = t.rows.filter((r) => r.row === REFERENCE_ROW);
      expect(mixes, t.id).toHaveLength(1);
      expect(mixes[0]!.harmReductionPts).toBeUndefined();
      expect(mixes[0]!.winRatePts).toBeUndefined();
    }
    expect(paperTableIds()).toEqual(["table1-sft", "table1-dpo", "fig5-language", "table2-position"]);
  });

  it("all 24 printed deltas match within 0.05, except the SFT SLERP harm delta (printed +1.2, really 1.6)", () => {
    expect(checks).toHaveLength(24); // 8 + 8 (Table 1), 4 (Fig. 5), 4 (Table 2)
    const mismatches = checks.filter((c) => Math.abs(c.printed - c.recomputed) > 0.05);
    expect(mismatches.map((c) => `${c.table}/${c.row.row}/${c.metric}`)).toEqual(["table1-sft/SLERP/harm"]);
    const [misprint] = mismatches;
    expect(misprint!.printed).toBe(1.2);
    expect(misprint!.recomputed).toBeCloseTo(1.6, 9);
    // The exception is the row whose note says it was printed differently; no other row says so.
    expect(misprint!.row.note).toMatch(/printed \+1\.2/);
    const notedAsMisprinted = PAPER_TABLES.flatMap((t) => t.rows.filter((r) => /^printed /.test(r.note ?? "")).map((r) => `${t.id}/${r.row}`));
    expect(notedAsMisprinted).toEqual(["table1-sft/SLERP"]);
  });

  it("Table 1's merges all carry both deltas; hand-checked values", () => {
    for (const id of ["table1-sft", "table1-dpo"]) {
      for (const name of ["Linear", "SLERP", "TIES", "DARE-TIES"]) {
        const r = row(id, name);
        expect(r.harmReductionPts, `${id} ${name}`).toBeDefined();
        expect(r.winRatePts, `${id} ${name}`).toBeDefined();
      }
    }
    // −56.6 − (−49.1) = −7.5; 76.0 − 67.4 = 8.6; DPO TIES −54.69 − (−65.1) = 10.41 ≈ 10.4; 63.6 − 71.0 = −7.4.
    expect(row("table1-sft", "Linear")).toMatchObject({ harm: -49.1, win: 76.0, harmReductionPts: -7.5, winRatePts: 8.6 });
    expect(row("table1-dpo", "TIES")).toMatchObject({ harm: -65.1, win: 63.6, harmReductionPts: 10.4, winRatePts: -7.4 });
  });

  it("the tables agree with each other where they print the same model", () => {
    const values = (r: PaperRow) => [r.harm, r.win];
    // Fig. 5 is SFT: its mix is Table 1's SFT mix. Table 2 compares against the DPO mix.
    expect(values(row("fig5-language", REFERENCE_ROW))).toEqual(values(row("table1-sft", REFERENCE_ROW)));
    expect(values(row("table2-position", REFERENCE_ROW))).toEqual(values(row("table1-dpo", REFERENCE_ROW)));
    // SFT → merge is Table 1's SFT SLERP; SFT → DPO → merge is Table 1's DPO SLERP, deltas included.
    expect(values(row("table2-position", "SFT → merge"))).toEqual(values(row("table1-sft", "SLERP")));
    const before = row("table2-position", "SFT → DPO → merge");
    const dpoSlerp = row("table1-dpo", "SLERP");
    expect([...values(before), before.harmReductionPts, before.winRatePts]).toEqual([...values(dpoSlerp), dpoSlerp.harmReductionPts, dpoSlerp.winRatePts]);
    // Table 2 prints +1.6 for SFT → merge against the SFT mix: the misprint's true value.
    expect(row("table1-sft", REFERENCE_ROW).harm - row("table2-position", "SFT → merge").harm).toBeCloseTo(1.6, 9);
  });

  it("the default rows exist in Table 1", () => {
    for (const id of ["table1-sft", "table1-dpo"]) {
      const names = table(id).rows.map((r) => r.row);
      for (const name of [...Object.values(DEFAULT_PAPER_ROWS.safetyMix), ...Object.values(DEFAULT_PAPER_ROWS.method)]) expect(names).toContain(name);
    }
  });
});

// comparePaper reads only each model's overall cell and overall delta.

function metrics(harm: number | null, win: number | null): MetricsCell {
  return {
    harmful_rate: null, harmful_rate_ci: null,
    harm_rel_change_vs_base: harm, harm_rel_change_vs_base_ci: null,
    win_rate_vs_base: win, win_rate_vs_base_ci: null,
    n_redteam: 0, n_general: 0, unparsable: 0, in_language_rate: null, order_consistency: null, mde_pts: { harm: null, win: null },
  };
}

function delta(harm: number | null, win: number | null): DeltaCell {
  return {
    harm_reduction_pts: harm, harm_reduction_pts_ci: null, win_rate_pts: win, win_rate_pts_ci: null, harm_within_noise: null, win_within_noise: null,
    harm_p: null, harm_significant: null, win_p: null, win_significant: null,
  };
}

function modelReport(harm: number | null, win: number | null, deltas?: DeltaCell): ModelReport {
  return {
    roles: ["merge"], source: "synthetic", languages: {}, overall: metrics(harm, win),
    ...(deltas ? { deltas_vs_reference: { overall: deltas } } : {}),
    samples: { redteam: [], general: [] },
  };
}

const cellsOf = (cells: PaperCell[], model: string) => cells.filter((c) => c.model === model);
const rowsOf = (cells: PaperCell[]) => [...new Set(cells.map((c) => `${c.model} → ${c.paper_row}`))];

describe("comparePaper", () => {
  const report: Pick<Report, "models"> = {
    models: {
      base: modelReport(null, null),
      mix0: modelReport(-40, 71),
      mix15: modelReport(-50, 70),
      mix100: modelReport(-60, 60),
      "safety-expert": modelReport(-70, 50),
      "linear-a": modelReport(-45, 75, delta(-5, 5)),
      "slerp-a": modelReport(-60, 72, delta(10, 2)),
      "slerp-b": modelReport(-61, 73, delta(11, 3)),
      "ties-a": modelReport(-62, null, delta(12, null)),
      "ties-b": modelReport(-63, 74, delta(13, 4)),
      "dare-a": modelReport(-55, 76),
      renamed: modelReport(-66, 77, delta(16, 7)),
    },
  };
  const models: ReportModel[] = [
    { name: "base", roles: ["base"], source: "s" },
    { name: "mix0", roles: ["baseline", "expert"], safetyMix: 0, source: "s" },
    { name: "mix15", roles: ["baseline"], safetyMix: 15, source: "s" },
    { name: "mix100", roles: ["baseline"], safetyMix: 100, source: "s" },
    // A safety share without the baseline role is not a data mix.
    { name: "safety-expert", roles: ["expert"], safetyMix: 100, source: "s" },
    { name: "linear-a", roles: ["merge"], method: "linear", source: "s" },
    // Two SLERP merges, one named explicitly: it wins.
    { name: "slerp-a", roles: ["merge"], method: "slerp", source: "s" },
    { name: "slerp-b", roles: ["merge"], method: "slerp", paperRow: "SLERP", source: "s" },
    // Two TIES merges, neither named: both are compared with the TIES row.
    { name: "ties-a", roles: ["merge"], method: "ties", source: "s" },
    { name: "ties-b", roles: ["merge"], method: "ties", source: "s" },
    { name: "dare-a", roles: ["merge"], method: "dare_ties", source: "s" },
  ];

  it("maps baselines by safety mix and merges by method, in the table's row order", () => {
    const comparison = comparePaper("table1-sft", models, report);
    expect(comparison).toMatchObject({ id: "table1-sft", title: table("table1-sft").title });
    expect(comparison.source).toMatch(/2410\.10801/);
    expect(rowsOf(comparison.cells)).toEqual([
      "mix0 → 0% Safety Mix",
      "mix15 → 15% Safety Mix",
      "mix100 → 100% Safety Mix",
      "linear-a → Linear",
      "slerp-b → SLERP",
      "ties-a → TIES",
      "ties-b → TIES",
      "dare-a → DARE-TIES",
    ]);
  });

  it("an explicit paperRow wins; two merges of one method and no paperRow are both compared", () => {
    const { cells } = comparePaper("table1-sft", models, report);
    expect(cellsOf(cells, "slerp-a")).toEqual([]);
    expect(rowsOf(cells.filter((c) => c.paper_row === "TIES"))).toEqual(["ties-a → TIES", "ties-b → TIES"]);
    expect(cellsOf(cells, "ties-b").map((c) => [c.metric, c.ours])).toEqual([
      ["harm_rel_change_vs_base", -63],
      ["win_rate_vs_base", 74],
      ["harm_reduction_pts", 13],
      ["win_rate_pts", 4],
    ]);
    // The base (no mix, no method) stands for no row.
    expect(cellsOf(cells, "base")).toEqual([]);

    // With one of the TIES merges named, that one gets the row.
    const named = models.map((m) => (m.name === "ties-a" ? { ...m, paperRow: "TIES" } : m));
    expect(rowsOf(comparePaper("table1-sft", named, report).cells).filter((r) => r.endsWith("TIES"))).toEqual(["ties-a → TIES", "dare-a → DARE-TIES"]);
    // With only one TIES merge, the method alone is enough.
    const single = models.filter((m) => m.name !== "ties-b");
    expect(rowsOf(comparePaper("table1-sft", single, report).cells)).toContain("ties-a → TIES");
    // A paperRow maps a model to a row its method would not: Fig. 5's rows.
    const fig5 = comparePaper("fig5-language", [...models, { name: "renamed", roles: ["merge"], method: "ties", paperRow: "TIES [All]", source: "s" }], report);
    expect(rowsOf(fig5.cells)).toEqual(["mix15 → 15% Safety Mix", "renamed → TIES [All]"]);
  });

  it("differences are ours − paper; a null ours gives a null difference", () => {
    const { cells } = comparePaper("table1-sft", models, report);
    const slerp = cellsOf(cells, "slerp-b");
    expect(slerp.map((c) => [c.metric, c.paper, c.ours])).toEqual([
      ["harm_rel_change_vs_base", -58.2, -61],
      ["win_rate_vs_base", 72.6, 73],
      ["harm_reduction_pts", 1.2, 11],
      ["win_rate_pts", 5.2, 3],
    ]);
    const differences = slerp.map((c) => c.difference!);
    const expected = [-2.8, 0.4, 9.8, -2.2]; // −61 − (−58.2), 73 − 72.6, 11 − 1.2, 3 − 5.2
    differences.forEach((d, i) => expect(d).toBeCloseTo(expected[i]!, 9));
    for (const c of cells) if (c.ours !== null) expect(c.difference).toBeCloseTo(c.ours - c.paper, 9);

    // The mixes have no printed deltas: only two cells each.
    expect(cellsOf(cells, "mix15").map((c) => c.metric)).toEqual(["harm_rel_change_vs_base", "win_rate_vs_base"]);
    expect(cellsOf(cells, "mix15")[1]).toMatchObject({ paper: 67.4, ours: 70 });

    const single = comparePaper("table1-sft", models.filter((m) => m.name !== "ties-b"), report).cells;
    const ties = cellsOf(single, "ties-a");
    expect(ties.map((c) => [c.metric, c.ours, c.difference])).toEqual([
      ["harm_rel_change_vs_base", -62, expect.closeTo(-16.8, 9)],
      ["win_rate_vs_base", null, null],
      ["harm_reduction_pts", 12, expect.closeTo(23.4, 9)],
      ["win_rate_pts", null, null],
    ]);
    // No deltas at all (dare-a has no deltas_vs_reference): the delta cells are there, with null ours.
    const dare = cellsOf(comparePaper("table1-dpo", models, report).cells, "dare-a");
    expect(dare.map((c) => [c.metric, c.paper, c.ours, c.difference])).toEqual([
      ["harm_rel_change_vs_base", -55.9, -55, expect.closeTo(0.9, 9)],
      ["win_rate_vs_base", 78.5, 76, expect.closeTo(-2.5, 9)],
      ["harm_reduction_pts", 1.2, null, null],
      ["win_rate_pts", 7.5, null, null],
    ]);
  });

  it("the renderings' lines leave no paper row out: each candidate on its own line, rows without a model with the paper's numbers", () => {
    const fig5 = comparePaper("fig5-language", [...models, { name: "renamed", roles: ["merge"], method: "ties", paperRow: "TIES [All]", source: "s" }], report);
    expect(paperLines(fig5).map((l) => [l.row, l.model, l.candidates])).toEqual([
      ["15% Safety Mix", "mix15", 1],
      ["TIES [All]", "renamed", 1],
      ["TIES [EN,FR,SP]", null, 0],
    ]);
    expect(paperLines(fig5)[2]!.metrics).toEqual({
      harm_rel_change_vs_base: { paper: -65.3, ours: null, difference: null },
      win_rate_vs_base: { paper: 77.0, ours: null, difference: null },
      harm_reduction_pts: { paper: 8.7, ours: null, difference: null },
      win_rate_pts: { paper: 9.6, ours: null, difference: null },
    });

    const sft = comparePaper("table1-sft", models, report);
    const lines = paperLines(sft);
    expect([...new Set(lines.map((l) => l.row))]).toEqual(table("table1-sft").rows.map((r) => r.row));
    expect(lines.filter((l) => l.row === "TIES").map((l) => [l.model, l.candidates])).toEqual([["ties-a", 2], ["ties-b", 2]]);
    expect(lines.find((l) => l.model === "ties-a")!.metrics.win_rate_vs_base).toEqual({ paper: 74.9, ours: null, difference: null });

    expect(paperGaps(sft)).toEqual([{ row: "TIES", candidates: ["ties-a", "ties-b"] }]);
    expect(paperGaps(fig5)).toEqual([{ row: "TIES [EN,FR,SP]", candidates: [] }]);
    const plain = (s: string) => s;
    expect(paperGapText(paperGaps(sft)[0]!, plain, (c) => `\`${c}\``)).toBe("TIES: 2 candidates (ties-a, ties-b), each shown; `paper_row: TIES` on one of them picks it.");
    expect(paperGapText(paperGaps(fig5)[0]!, plain, (c) => `\`${c}\``)).toBe(
      "TIES [EN,FR,SP]: no model of this experiment stands for this row (paper numbers only); `paper_row: TIES [EN,FR,SP]` on a model compares it.",
    );
    // A table this version does not know: its rows as the cells name them.
    expect(paperLines({ ...sft, id: "table9" }).map((l) => `${l.row}: ${l.model}`)).toEqual(lines.map((l) => `${l.row}: ${l.model}`));
  });

  it("rejects an unknown table", () => {
    expect(() => comparePaper("table9", models, report)).toThrow(/unknown paper table table9/);
  });
});
