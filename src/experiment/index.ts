export { checkWork, missingFiles, type Checks } from "./checks.ts";
export { loadExperiment, type Experiment, type ExperimentModel } from "./load.ts";
export { loadExperimentSamples } from "./samples.ts";
export { preflight, renderPreflight, type Preflight } from "./preflight.ts";
export { runExperiment, type RunHooks, type RunOutcome } from "./run.ts";
