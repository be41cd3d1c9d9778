/**
 * report.json: the one document every report format, the paper comparison and the gate are built from.
 * Every rate and change is in percent (0–100), every interval a 95% interval `[low, high]` (the method is named in
 * `statistics`), and a value that cannot be computed (no data, a base with zero harm) is null.
 * Version 2 added: `mde_pts` and `harm_rel_change_undefined` on cells; p-values and Holm-adjusted significance on
 * deltas; `statistics`, `recommendations`, `regressions`; the judges' model and endpoint host.
 */
export const REPORT_SCHEMA_VERSION = 2;
/** Versions `gate` reads (version 1 lacks only the additions). */
export const READABLE_SCHEMA_VERSIONS: readonly number[] = [1, 2];

export type Ci = [number, number];

/** One model in one language (or over all languages: `overall`). */
export interface MetricsCell {
  /** Share of red-team completions judged harmful, %. */
  harmful_rate: number | null;
  harmful_rate_ci: Ci | null;
  /** The paper's harm metric: 100·(h − h_base)/h_base, % (negative = fewer harmful generations than the base). */
  harm_rel_change_vs_base: number | null;
  harm_rel_change_vs_base_ci: Ci | null;
  /** Pairwise win rate against the base model on general prompts, %, ties counting half. */
  win_rate_vs_base: number | null;
  win_rate_vs_base_ci: Ci | null;
  /** Judged prompts (unparsable verdicts excluded). */
  n_redteam: number;
  n_general: number;
  /** Judge replies that could not be parsed (harm + preference): never counted as safe or as a tie. */
  unparsable: number;
  /** Share of completions written in the prompt's language, % (null: no identifiable completions). */
  in_language_rate: number | null;
  /** Both-order preference judges: share of pairs whose two orders agreed, %. */
  order_consistency: number | null;
  /**
   * The smallest difference from the reference mix (the base when there is none) this cell could detect, in points
   * of harmful rate and of win rate: 80% power, two-sided 5% level, at the cell's observed variance (null: no data;
   * capped at 100, which means no difference on the scale could be shown).
   */
  mde_pts: { harm: number | null; win: number | null };
  /** Set when harm_rel_change_vs_base is null although there is data: why it is undefined (e.g. the base has no harmful completions). */
  harm_rel_change_undefined?: string;
  /**
   * Win rate vs the base controlled for answer length, % (AlpacaEval 2's length-controlled win rate: the predicted
   * win rate at equal length); null without preference verdicts.
   */
  lc_win_rate_vs_base?: number | null;
  /**
   * Present only when the run could not finish this cell: prompts whose generation or judgment failed. Its numbers
   * cover the rest; it is incomplete, never a zero.
   */
  missing?: { redteam: number; general: number };
}

/** A model's difference from the reference data mix, with the paper's sign conventions (Table 1 brackets). */
export interface DeltaCell {
  /** Reference's harm change minus this model's, points: positive = more harm reduction than the mix. */
  harm_reduction_pts: number | null;
  harm_reduction_pts_ci: Ci | null;
  /** This model's win rate minus the reference's, points. */
  win_rate_pts: number | null;
  win_rate_pts_ci: Ci | null;
  /** The interval contains 0 (null: no interval). */
  harm_within_noise: boolean | null;
  win_within_noise: boolean | null;
  /** Two-sided p-value of "no difference from the reference", and whether it stays below 5% after Holm's correction over every delta of the report. */
  harm_p: number | null;
  harm_significant: boolean | null;
  win_p: number | null;
  win_significant: boolean | null;
}

/** Which model to ship for one language (or overall), and why. */
export interface Recommendation {
  /** null: no clear winner (the front is within noise, or no model qualifies). */
  model: string | null;
  /** The rule in one line, as the report states it. */
  rule: string;
  /** Why this model (or why none), with the numbers. */
  reason: string;
  /** The Pareto front of merges and mixes (lower harm change, higher win rate), by ascending harm change. */
  front: string[];
}

/** A merge worse than the reference mix beyond noise (Holm-adjusted) in one language or overall. */
export interface Regression {
  model: string;
  /** A language code or "overall". */
  language: string;
  metric: "harm" | "win";
  /** How much worse, points (harm: points of harm reduction lost; win: win-rate points lost); positive. */
  points: number;
  ci: Ci;
}

/** A random merge (DARE, DELLA) repeated over seeds: how far apart the seeds land. */
export interface SeedSpread {
  /** The merge entry (with its sweep point), e.g. "dare-ties". */
  merge: string;
  seeds: number[];
  models: string[];
  /** Per language and "overall": [min, max] over the seeds, % (null: no data). */
  languages: Record<string, { harmful_rate: Ci | null; win_rate_vs_base: Ci | null }>;
}

/** How far the judges of a panel agree, per language and overall, and where they do not. */
export interface PanelAgreement {
  /** Labels of the panel's judges, the first being the one whose verdicts are the report's numbers. */
  judges: string[];
  /** "Cohen's kappa" (two judges) or "Krippendorff's alpha (nominal)" (more). */
  statistic: string;
  /** Per language and "overall": the statistic (null: undefined, e.g. every verdict the same) and the prompts rated by two or more judges. */
  languages: Record<string, { value: number | null; n: number }>;
  /** The first disagreements (model, language, prompt id, each judge's verdict); `disagreements_total` counts them all. */
  disagreements: { model: string; language: string; id: string; verdicts: Record<string, string | null> }[];
  disagreements_total: number;
}

/** The preference judge's habits per language: order effects, ties, and a taste for length. */
export interface JudgeDiagnostics {
  /** Both-order judges: share of pairs whose two orders disagreed, % (null: single order). */
  position_inconsistency: number | null;
  /** Share of parsable verdicts that are ties, %. */
  tie_rate: number | null;
  /** Mean length in characters of the preferred answer and of the other one, over decisive verdicts. */
  preferred_length: number | null;
  other_length: number | null;
}

/** How the report's numbers were computed, stated once. */
export interface StatisticsInfo {
  level: number;
  /** One line per kind of interval, with its reference. */
  intervals: string[];
  /** How significance over many comparisons is controlled, e.g. "Holm–Bonferroni over 84 tests (family-wise 5%)". */
  multiple_comparisons: string;
}

export type ModelRole = "base" | "baseline" | "expert" | "merge";

/**
 * Per-prompt outcomes, so two reports can be compared prompt by prompt (the gate's paired intervals):
 * `[language, prompt id, cluster (source id), value]`; harm value 1 harmful / 0 safe, preference 1 win / ½ tie /
 * 0 loss against the base; null = unparsable.
 */
export type SampleOutcome = [language: string, id: string, cluster: string, value: number | null];

export interface ModelReport {
  roles: ModelRole[];
  /** Data-mix baselines: the share of safety data in the mix, % (0, 15, 100 in the paper). */
  safety_mix?: number;
  /** Merges: the method and, for sweep members, the grid point. */
  method?: string;
  sweep?: Record<string, number>;
  /** Random merges repeated over seeds: this one's seed (its group is in `seed_spread`). */
  seed?: number;
  /** Where the model comes from: a folder or `endpoint model`. */
  source: string;
  languages: Record<string, MetricsCell>;
  overall: MetricsCell;
  /** Against the reference mix, per language and `overall`; absent for the reference itself and the base. */
  deltas_vs_reference?: Record<string, DeltaCell>;
  samples: { redteam: SampleOutcome[]; general: SampleOutcome[] };
}

export interface JudgeReport {
  name: string;
  /** Languages the judge is meant for; results in others are unreliable. */
  languages: string[];
  /** The experiment's languages this judge does not cover. */
  uncovered: string[];
  /** Set for stand-in judges (offline proxies): reports print it. */
  proxy_note?: string;
  /** LLM judges: the judge model and the host of its endpoint (never the key). */
  model?: string;
  endpoint_host?: string;
}

/** One number of the paper next to ours. */
export interface PaperCell {
  model: string;
  /** The paper's row label, e.g. "SLERP". */
  paper_row: string;
  metric: "harm_rel_change_vs_base" | "win_rate_vs_base" | "harm_reduction_pts" | "win_rate_pts";
  paper: number;
  ours: number | null;
  /** ours − paper (null when ours is missing). */
  difference: number | null;
}

export interface PaperComparison {
  id: string;
  title: string;
  source: string;
  cells: PaperCell[];
}

export interface Report {
  schema_version: typeof REPORT_SCHEMA_VERSION;
  experiment: {
    name: string;
    description?: string;
    languages: string[];
    base: string;
    /** The data mix that deltas are taken against (the paper's 15% mix). */
    reference?: string;
    /** The models are the bundled fixtures (not trained): say so wherever results are shown. */
    fixtures: boolean;
    /** What the models are, when a reader must know it first (e.g. "toy models trained on stand-in data"). */
    models_note?: string;
    paper?: string;
  };
  judges: { harm: JudgeReport; preference: JudgeReport };
  generation: { max_tokens: number; temperature: number; seed?: number; limit_per_language?: number };
  /** In display order: base, baselines (by safety mix), experts, merges. */
  models: Record<string, ModelReport>;
  paper?: PaperComparison;
  /** Dataset rows skipped as unusable (bad JSON, no prompt, unknown language), per file; absent when none were. */
  skipped_rows?: Record<string, number>;
  statistics: StatisticsInfo;
  /** Per language and "overall": the pick, by the rule stated in each. */
  recommendations: Record<string, Recommendation>;
  /** Merges worse than the reference mix beyond noise: shown at the top of every rendering. */
  regressions: Regression[];
  /** Random merges repeated over seeds (`seeds:` in the experiment); absent when there are none. */
  seed_spread?: SeedSpread[];
  /** Judge panels (a list of judges in the experiment): agreement per language; absent for single judges. */
  judge_panels?: { harm?: PanelAgreement; preference?: PanelAgreement };
  /** Per language and "overall": the preference judge's position inconsistency, ties and length preference. */
  judge_diagnostics: Record<string, JudgeDiagnostics>;
  /** Plain-language caveats every rendering shows (fixtures, proxy judges, noise). */
  notes: string[];
}
