/**
 * The published numbers of "Mix Data or Merge Models?" (arXiv 2410.10801), all six languages aggregated, as
 * transcribed in ../shared/reference/paper.md §4. Harm = relative % change in harmful generations vs the base;
 * win = Dolly-200 win rate (%) vs the base; deltas are against the 15% safety mix at the same stage, harm delta
 * positive = more harm reduction than the mix. The per-language appendix tables were not obtained.
 */
export interface PaperRow {
  row: string;
  harm: number;
  win: number;
  /** Differences from the 15% mix as printed (absent for the mixes themselves). */
  harmReductionPts?: number;
  winRatePts?: number;
  note?: string;
}

export interface PaperTable {
  id: string;
  title: string;
  rows: PaperRow[];
}

const mixes = (zero: [number, number], fifteen: [number, number], hundred: [number, number]): PaperRow[] => [
  { row: "0% Safety Mix", harm: zero[0], win: zero[1] },
  { row: "15% Safety Mix", harm: fifteen[0], win: fifteen[1] },
  { row: "100% Safety Mix", harm: hundred[0], win: hundred[1] },
];

export const PAPER_TABLES: readonly PaperTable[] = [
  {
    id: "table1-sft",
    title: "Table 1, SFT checkpoints: objective-based merges of the 0% and 100% safety experts vs data mixing",
    rows: [
      ...mixes([-41.4, 70.0], [-56.6, 67.4], [-64.4, 64.8]),
      { row: "Linear", harm: -49.1, win: 76.0, harmReductionPts: -7.5, winRatePts: 8.6 },
      { row: "SLERP", harm: -58.2, win: 72.6, harmReductionPts: 1.2, winRatePts: 5.2, note: "printed +1.2; −58.2 vs −56.6 is 1.6, as Table 2 prints" },
      { row: "TIES", harm: -45.2, win: 74.9, harmReductionPts: -11.4, winRatePts: 7.5 },
      { row: "DARE-TIES", harm: -56.1, win: 70.0, harmReductionPts: -0.5, winRatePts: 2.6 },
    ],
  },
  {
    id: "table1-dpo",
    title: "Table 1, DPO checkpoints: objective-based merges of the 0% and 100% safety experts vs data mixing",
    rows: [
      ...mixes([-39.2, 70.7], [-54.69, 71.0], [-68.2, 75.0]),
      { row: "Linear", harm: -48.6, win: 75.0, harmReductionPts: -6.1, winRatePts: 4.0 },
      { row: "SLERP", harm: -57.8, win: 78.0, harmReductionPts: 3.1, winRatePts: 7.0 },
      { row: "TIES", harm: -65.1, win: 63.6, harmReductionPts: 10.4, winRatePts: -7.4 },
      { row: "DARE-TIES", harm: -55.9, win: 78.5, harmReductionPts: 1.2, winRatePts: 7.5 },
    ],
  },
  {
    id: "fig5-language",
    title: "Figure 5, language-based merging (TIES, SFT): monolingual experts merged vs the multilingual 15% mix",
    rows: [
      { row: "15% Safety Mix", harm: -56.6, win: 67.4 },
      { row: "TIES [All]", harm: -63.2, win: 71.2, harmReductionPts: 6.6, winRatePts: 3.8 },
      { row: "TIES [EN,FR,SP]", harm: -65.3, win: 77.0, harmReductionPts: 8.7, winRatePts: 9.6, note: "deltas computed from the values; not printed" },
    ],
  },
  {
    id: "table2-position",
    title: "Table 2, where merging happens (SLERP), against the DPO 15% mix (−54.69 / 71.0)",
    rows: [
      { row: "15% Safety Mix", harm: -54.69, win: 71.0 },
      { row: "SFT → merge", harm: -58.2, win: 72.6 },
      { row: "SFT → DPO → merge", harm: -57.8, win: 78.0, harmReductionPts: 3.1, winRatePts: 7.0 },
      { row: "SFT → merge → DPO", harm: -61.2, win: 74.0, harmReductionPts: 6.5, winRatePts: 3.0 },
    ],
  },
];

export function paperTableIds(): string[] {
  return PAPER_TABLES.map((t) => t.id);
}

/** The paper's row for a model, when the experiment does not name one: the mixes by safety share, merges by method. */
export const DEFAULT_PAPER_ROWS: { safetyMix: Record<number, string>; method: Record<string, string> } = {
  safetyMix: { 0: "0% Safety Mix", 15: "15% Safety Mix", 100: "100% Safety Mix" },
  method: { linear: "Linear", slerp: "SLERP", ties: "TIES", dare_ties: "DARE-TIES" },
};
