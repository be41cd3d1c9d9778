import { loadDataset, type Sample } from "../datasets/index.ts";
import type { Experiment } from "./load.ts";

export interface ExperimentSamples {
  redteam: Sample[];
  general: Sample[];
  /** Rows skipped as unusable, as `file:line: message`. */
  problems: string[];
  /** How many rows each dataset file lost (files with none are left out): reports say so. */
  skippedRows: Record<string, number>;
}

/** Both datasets in the experiment's languages, the first `limit` prompts of each language in file order. */
export async function loadExperimentSamples(experiment: Experiment): Promise<ExperimentSamples> {
  const { spec, languages } = experiment;
  const problems: string[] = [];
  const skippedRows: Record<string, number> = {};
  const load = async (file: string, kind: "aya-redteaming" | "dolly-200"): Promise<Sample[]> => {
    const loaded = await loadDataset(file, { kind, languages });
    problems.push(...loaded.problems.map((p) => `${p.file}:${p.line}: ${p.message}`));
    if (loaded.problems.length) skippedRows[file] = loaded.problems.length;
    return limitPerLanguage(loaded.samples, spec.limit);
  };
  return { redteam: await load(spec.datasets.redteam, "aya-redteaming"), general: await load(spec.datasets.general, "dolly-200"), problems, skippedRows };
}

function limitPerLanguage(samples: Sample[], limit: number | undefined): Sample[] {
  if (limit === undefined) return samples;
  const taken = new Map<string, number>();
  return samples.filter((s) => {
    const n = taken.get(s.language) ?? 0;
    taken.set(s.language, n + 1);
    return n < limit;
  });
}
