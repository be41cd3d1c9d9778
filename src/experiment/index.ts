export { loadExperiment, missingInputs, type Experiment, type ExperimentModel } from "./load.ts";
export { preflight, renderPreflight, type Preflight } from "./preflight.ts";
export { runExperiment, type RunHooks, type RunOutcome } from "./run.ts";
