import { z } from "zod";

/**
 * The experiment file: one study, end to end. Paths are relative to the working directory (as with
 * mergekit-yaml); model names are the names used in run folders and reports.
 */

const name = z.string().regex(/^[A-Za-z0-9][\w.-]*$/, "names use letters, digits, '.', '_' and '-'");
const role = z.enum(["base", "baseline", "expert"]);
// `localhost:8000/v1` is a valid URL (scheme "localhost:"): only http(s) base URLs are endpoints.
const url = z.string().regex(/^https?:\/\/[^/\s]/i, "an http(s) base URL with its scheme, e.g. http://localhost:8000/v1");
const urls = z.union([url, z.array(url).min(1)]).transform((u) => (Array.isArray(u) ? u : [u]));

const endpointFields = {
  endpoint: urls,
  /** The model name the endpoint serves. */
  model: z.string().min(1),
  /** The NAME of the environment variable holding the API key (the key is never written). */
  api_key_env: z.string().optional(),
};

const modelCommon = {
  role: z.union([role, z.array(role).min(1)]).transform((r) => (Array.isArray(r) ? r : [r])),
  /** Data-mix baselines: the share of safety data, % (0, 15, 100 in the paper). */
  safety_mix: z.number().min(0).max(100).optional(),
  /** The data mix deltas are taken against (the paper's 15% mix). */
  reference: z.boolean().optional(),
  /** Which row of the declared paper table this model stands for (default: from its role and method). */
  paper_row: z.string().optional(),
};

/**
 * Where a model is served for generation instead of running its folder locally through ONNX: the name of a
 * `servers:` profile (mergeval starts the server on the folder, generates, stops it), or an endpoint already running.
 */
const serve = z.union([z.string().min(1), z.object(endpointFields).strict()]);

/** Weights in a folder (safetensors or ONNX): generated locally, or by the server named in `serve`. */
const localModel = z.object({ path: z.string().min(1), serve: serve.optional(), ...modelCommon }).strict();
const endpointModel = z.object({ ...endpointFields, ...modelCommon }).strict();
export const modelSchema = z.union([localModel, endpointModel]);

export const mergeSchema = z
  .object({
    /** A mergekit YAML file, or the recipe inline. Model references naming experiment models use their paths. */
    recipe: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    /** A grid: every combination becomes one merge; `${var}` / `${1-var}` in the recipe take its values. */
    sweep: z.record(z.string().regex(/^[A-Za-z_]\w*$/, "sweep variables are identifiers"), z.array(z.number()).min(1)).optional(),
    /** Random merges (DARE, DELLA): one merge per seed, named <name>-s<seed>; the report shows the spread. */
    seeds: z.array(z.number().int().nonnegative()).min(2).optional(),
    /** Where every merge of the entry is served for generation (a `servers:` profile started on RUN/merges/<name>, or an endpoint); default: local ONNX. */
    serve: serve.optional(),
    paper_row: z.string().optional(),
  })
  .strict();

const judgeSchema = z
  .object({
    name: z.string().min(1),
    endpoint: urls.optional(),
    model: z.string().min(1).optional(),
    api_key_env: z.string().optional(),
    /** A judge model mergeval serves itself: its folder and the `servers:` profile (started after generation, stopped after judging). */
    path: z.string().min(1).optional(),
    serve: z.string().min(1).optional(),
    /** A prompt template file replacing the judge's default. */
    template: z.string().optional(),
    /** llm-pairwise: one seeded order per prompt instead of both. */
    single_order: z.boolean().optional(),
    concurrency: z.number().int().positive().optional(),
  })
  .strict()
  .refine((j) => j.serve !== undefined || (j.endpoint === undefined) === (j.model === undefined), { message: "give both endpoint and model, or neither" })
  .refine((j) => j.serve === undefined || (j.path !== undefined && j.endpoint === undefined), { message: "a served judge takes path: (its folder) and serve: (a servers: profile), not endpoint:" })
  .refine((j) => j.path === undefined || j.serve !== undefined, { message: "path: is for a judge mergeval serves: add serve: naming a servers: profile" });

/** How to start an inference server for one model; `serve: <name>` on a model, merge or judge uses it. */
const serverProfileSchema = z
  .object({
    /** The command, split into words as a shell does and run without one: {path} {port} {model} {gpu} are filled in. */
    command: z.string().min(1),
    /** Polled until it answers 2xx and, when it answers a model list, lists {model}. */
    ready: z.string().regex(/^\//, "a path on the server, e.g. /v1/models or /health").default("/v1/models"),
    startup_timeout_s: z.number().positive().default(900),
    /** Between SIGTERM and SIGKILL when a server is stopped. */
    stop_timeout_s: z.number().nonnegative().default(30),
    /** Servers of this profile at once (each on its own GPUs): N models generate side by side. */
    parallel: z.number().int().positive().default(1),
    /** GPUs per server ({gpu} and CUDA_VISIBLE_DEVICES, e.g. "2,3"); 0 sets neither. */
    gpus_per_server: z.number().int().nonnegative().default(1),
    env: z.record(z.string().regex(/^[A-Za-z_]\w*$/, "environment variable names use letters, digits and '_'"), z.union([z.string(), z.number()]).transform(String)).default({}),
  })
  .strict();

function panel<T extends z.ZodType>(judge: T) {
  return z.union([judge, z.array(judge).min(1)]).transform((j): z.infer<T>[] => (Array.isArray(j) ? j : [j]));
}

export const experimentSchema = z
  .object({
    name,
    description: z.string().optional(),
    /** Write the bundled fixture family (tiny, untrained models) into this folder first: for pipeline tests. */
    fixtures: z.string().optional(),
    /** What the models are, shown first in every rendering of the report (e.g. "toy models trained on stand-in data"). */
    models_note: z.string().optional(),
    languages: z.array(z.string().min(1)).min(1),
    datasets: z.object({ redteam: z.string().min(1), general: z.string().min(1) }).strict(),
    /** A bad dataset row is fatal (default: reported, skipped, and counted in the report). */
    strict: z.boolean().optional(),
    /** Prompts per language, for quick runs (the first N of each language, in file order). */
    limit: z.number().int().positive().optional(),
    /** Server profiles mergeval starts and stops itself (vLLM, llama.cpp's llama-server, TGI…). */
    servers: z.record(name, serverProfileSchema).default({}),
    models: z.record(name, modelSchema),
    merges: z.record(name, mergeSchema).default({}),
    generation: z
      .object({
        max_tokens: z.number().int().positive().default(256),
        temperature: z.number().min(0).default(0),
        top_p: z.number().gt(0).max(1).optional(),
        seed: z.number().int().optional(),
        system: z.string().optional(),
        concurrency: z.number().int().positive().optional(),
        timeout_s: z.number().positive().optional(),
      })
      .strict()
      .default({ max_tokens: 256, temperature: 0 }),
    /** One judge each, or a panel (a list): the first judge's verdicts are the report's numbers, the others measure agreement. */
    judges: z.object({ harm: panel(judgeSchema), preference: panel(judgeSchema) }).strict(),
    /** Caps on paid work: judge calls, and estimated tokens sent to endpoints. The run stops before exceeding them. */
    budget: z.object({ judge_calls: z.number().int().nonnegative().optional(), tokens: z.number().int().nonnegative().optional() }).strict().optional(),
    /** Compare with the paper's published numbers: one of the tables in src/report/paper-data.ts. */
    paper: z.string().optional(),
    /** How the report picks a model per language: win-rate (default) or harm; the rule is stated in the report. */
    pick: z.enum(["win-rate", "harm"]).default("win-rate"),
    /** Also copy the report here (e.g. reports/demo). */
    report_dir: z.string().optional(),
    /** Seeds DARE's drops and the bootstrap. */
    seed: z.number().int().default(0),
  })
  .strict();

export type ExperimentFile = z.infer<typeof experimentSchema>;
export type ModelEntry = z.infer<typeof modelSchema>;
export type MergeEntry = z.infer<typeof mergeSchema>;
export type JudgeEntry = z.infer<typeof judgeSchema>;
export type ServerProfileEntry = z.infer<typeof serverProfileSchema>;
