/**
 * Merge benchmark: builds synthetic Llama-shaped checkpoints of a few hundred MB in a temporary folder, measures
 * the I/O floor (read every input byte, write one output of the merge's size) and each method's merge, each run
 * in its own process for its peak RSS, and prints throughput, ratio to the floor and memory against the targets.
 * It measures; it never fails because of a time.
 *
 *   npm run bench -- [--scale 0.25] [--dtype BF16|F16|F32] [--methods linear,ties|all] [--runs 2]
 *                    [--floor-runs 5] [--seed 0] [--threads 1] [--json PATH] [--profile DIR]
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat, writeFile } from "node:fs/promises";
import { cpus, totalmem, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { tinyConfig, tinyTensorShapes, type TinyModelShape } from "../src/fixtures/tiny-models.ts";
import { encodeInPlace, type FloatDtype } from "../src/merge/safetensors/dtype.ts";
import { planShards, ShardWriter, tensorBytes } from "../src/merge/safetensors/writer.ts";
import { FLOOR_MODES, type FloorMode } from "./floor.ts";
import type { RunReport } from "./merge-one.ts";

const HELP = `Usage: npm run bench -- [options]

  --scale X          model size relative to the default (vocab 32000, hidden 1024, intermediate 2816, 8 layers;
                     about 336 MB per model in BF16); e.g. 0.25 for a quick run (default 1)
  --dtype D          BF16 (default), F16 or F32
  --methods LIST     comma-separated merge methods, or "all" (default: ${defaultMethods().join(",")})
  --runs N           merge runs per method; the best is reported (default 2)
  --floor-runs N     floor runs per input count and mode; the best is reported (default 5)
  --seed N           DARE/DELLA seed (default 0)
  --threads N        worker threads for the merges (mergeval merge --threads; default 1)
  --json PATH        also write a JSON summary to PATH
  --profile DIR      run the merges with --cpu-prof into DIR (times then include the profiler's overhead)
  -h, --help         this help

MB are 10^6 bytes. Targets (printed, never enforced): linear, task_arithmetic, slerp within 1.5x of the floor;
TIES and DARE within 3x; peak RSS under 3x the largest tensor (float32) + 256 MB.`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "bench", "merge-one.ts");
const MB = 1e6;

// ---------------------------------------------------------------- methods and their recipes

type ModelName = "base" | "expert_a" | "expert_b";
interface Recipe {
  config: Record<string, unknown>;
  inputs: ModelName[];
}

const W = { weight: 0.5 };
const WD = { weight: 0.5, density: 0.5 };
const withBase = (method: string, parameters: Record<string, unknown> | undefined): Recipe => ({
  config: {
    models: [
      { model: "expert_a", ...(parameters ? { parameters: { ...parameters } } : {}) },
      { model: "expert_b", ...(parameters ? { parameters: { ...parameters } } : {}) },
    ],
    merge_method: method,
    base_model: "base",
  },
  inputs: ["base", "expert_a", "expert_b"],
});

const RECIPES: Record<string, () => Recipe> = {
  linear: () => ({
    config: { models: [{ model: "expert_a", parameters: { ...W } }, { model: "expert_b", parameters: { ...W } }], merge_method: "linear" },
    inputs: ["expert_a", "expert_b"],
  }),
  task_arithmetic: () => withBase("task_arithmetic", W),
  slerp: () => ({
    config: { models: [{ model: "expert_a" }, { model: "expert_b" }], merge_method: "slerp", base_model: "expert_a", parameters: { t: 0.5 } },
    inputs: ["expert_a", "expert_b"],
  }),
  ties: () => withBase("ties", WD),
  dare_ties: () => withBase("dare_ties", WD),
  dare_linear: () => withBase("dare_linear", WD),
  breadcrumbs: () => withBase("breadcrumbs", WD),
  breadcrumbs_ties: () => withBase("breadcrumbs_ties", WD),
  della: () => withBase("della", WD),
  della_linear: () => withBase("della_linear", WD),
  model_stock: () => withBase("model_stock", undefined),
  nuslerp: () => withBase("nuslerp", W),
};

function defaultMethods(): string[] {
  // della (per-row sorts) takes about as long as all the others together: ask for it with --methods della or all.
  return ["linear", "task_arithmetic", "slerp", "ties", "dare_ties", "dare_linear", "breadcrumbs", "model_stock", "nuslerp"];
}

/** The time targets, as a multiple of the floor; methods not named there have none. */
const TIME_TARGETS: Record<string, number> = {
  linear: 1.5, task_arithmetic: 1.5, slerp: 1.5, ties: 3, dare_ties: 3, dare_linear: 3,
};
const RSS_TARGET = (largestF32: number) => 3 * largestF32 + 256 * MB;

// ---------------------------------------------------------------- synthetic checkpoints

const BASE_SHAPE = { vocab: 32000, hidden: 1024, intermediate: 2816, layers: 8 };

/** Scales every tensor's size by about `scale`: the matrix sides by √scale, the layer count kept. */
function scaledShape(scale: number, dtype: FloatDtype): TinyModelShape {
  const side = (x: number) => Math.max(64, Math.round((x * Math.sqrt(scale)) / 64) * 64);
  return { vocab: side(BASE_SHAPE.vocab), hidden: side(BASE_SHAPE.hidden), intermediate: side(BASE_SHAPE.intermediate), layers: BASE_SHAPE.layers, dtype };
}

const MODELS: readonly { name: ModelName; perturbation: number }[] = [
  { name: "base", perturbation: 0 },
  { name: "expert_a", perturbation: 0.02 },
  { name: "expert_b", perturbation: 0.02 },
];

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/** Base weights: uniform ±0.1 for matrices, 1 ± 0.05 for norms (xorshift32, seeded by the tensor name). */
function fillBase(out: Float32Array, tensor: string, isNorm: boolean): void {
  let s = fnv1a(`base/${tensor}`);
  const n = out.length;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u = (s >>> 0) * 2.3283064365386963e-10;
    out[i] = isNorm ? 1 + 0.1 * (u - 0.5) : (u - 0.5) * 0.2;
  }
}

/** An expert: the base plus triangular noise in (−p, p), seeded by model and tensor name. */
function fillExpert(out: Float32Array, base: Float32Array, model: string, tensor: string, p: number): void {
  let s = fnv1a(`${model}/${tensor}`);
  const n = out.length;
  const scale = p / 65536;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = base[i]! + ((s & 0xffff) + ((s >>> 16) & 0xffff) - 65536) * scale;
  }
}

interface ModelInfo {
  tensors: number;
  params: number;
  /** Tensor data bytes of one model (= the merge's output bytes). */
  dataBytes: number;
  /** model.safetensors size, header included. */
  fileBytes: number;
  largest: { name: string; shape: number[]; bytes: number; f32Bytes: number };
}

/** Writes base/, expert_a/ and expert_b/ under `root`, one tensor at a time, and fsyncs them. */
async function writeModels(root: string, shape: TinyModelShape): Promise<ModelInfo> {
  const planned = tinyTensorShapes(shape).map(([name, dims]) => ({ name, dtype: shape.dtype, shape: dims }));
  const numels = planned.map((t) => t.shape.reduce((a, b) => a * b, 1));
  const maxNumel = Math.max(...numels);
  const baseValues = new Float32Array(maxNumel);
  const scratch = new Float32Array(maxNumel);
  const writers: ShardWriter[] = [];
  for (const { name } of MODELS) {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "config.json"), JSON.stringify(tinyConfig(shape), null, 2) + "\n");
    writers.push(new ShardWriter(dir, planShards(planned, Number.MAX_SAFE_INTEGER)));
  }
  try {
    for (let t = 0; t < planned.length; t++) {
      const { name, shape: dims } = planned[t]!;
      const base = baseValues.subarray(0, numels[t]!);
      const out = scratch.subarray(0, numels[t]!);
      fillBase(base, name, dims.length === 1);
      for (let m = 0; m < MODELS.length; m++) {
        const model = MODELS[m]!;
        if (model.perturbation === 0) out.set(base);
        else fillExpert(out, base, model.name, name, model.perturbation);
        await writers[m]!.write(name, encodeInPlace(out, shape.dtype));
      }
    }
    for (const w of writers) await w.finish();
  } finally {
    for (const w of writers) await w.abort();
  }
  for (const { name } of MODELS) {
    const handle = await open(join(root, name, "model.safetensors"), "r+");
    await handle.sync();
    await handle.close();
  }
  let largest = planned[0]!;
  for (const t of planned) if (tensorBytes(t) > tensorBytes(largest)) largest = t;
  const largestNumel = largest.shape.reduce((a, b) => a * b, 1);
  return {
    tensors: planned.length,
    params: numels.reduce((a, b) => a + b, 0),
    dataBytes: planned.reduce((s, t) => s + tensorBytes(t), 0),
    fileBytes: (await stat(join(root, "base", "model.safetensors"))).size,
    largest: { name: largest.name, shape: largest.shape, bytes: tensorBytes(largest), f32Bytes: largestNumel * 4 },
  };
}

// ---------------------------------------------------------------- child runs

async function runChild(args: string[], extraNodeArgs: string[] = []): Promise<RunReport> {
  const child = spawn(process.execPath, [...extraNodeArgs, "--import", "tsx", CHILD, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((done, fail) => {
    child.on("error", fail);
    child.on("close", done);
  });
  const line = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0 || !line.startsWith("{")) throw new Error(`bench child ${args.join(" ")} exited with ${code}`);
  return JSON.parse(line) as RunReport;
}

// ---------------------------------------------------------------- statistics and formatting

const best = (xs: number[]) => Math.min(...xs);
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const f = (x: number, digits = 2) => x.toFixed(digits);

// ---------------------------------------------------------------- main

interface FloorResult {
  inputs: number;
  mode: FloorMode;
  seconds: number[];
  maxRssKB: number;
}

interface MethodResult {
  method: string;
  inputs: number;
  seconds: number[];
  best: number;
  median: number;
  inputMBps: number;
  outputMBps: number;
  floorSeconds: number;
  ratio: number;
  timeTarget: number | undefined;
  timeMet: boolean | undefined;
  peakRssMB: number;
  baselineRssMB: number;
  peakOverLargestStored: number;
  peakOverLargestF32: number;
  rssTargetMB: number;
  rssMet: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "1" },
      dtype: { type: "string", default: "BF16" },
      methods: { type: "string" },
      runs: { type: "string", default: "2" },
      "floor-runs": { type: "string", default: "5" },
      seed: { type: "string", default: "0" },
      threads: { type: "string", default: "1" },
      json: { type: "string" },
      profile: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const scale = Number(values.scale);
  if (!(scale > 0)) throw new Error(`--scale must be a positive number (got ${values.scale})`);
  const dtype = values.dtype.toUpperCase();
  if (dtype !== "BF16" && dtype !== "F16" && dtype !== "F32") throw new Error(`--dtype must be BF16, F16 or F32 (got ${values.dtype})`);
  const methods = !values.methods ? defaultMethods() : values.methods === "all" ? Object.keys(RECIPES) : values.methods.split(",").map((m) => m.trim()).filter(Boolean);
  for (const m of methods) if (!RECIPES[m]) throw new Error(`--methods: no bench recipe for "${m}" (known: ${Object.keys(RECIPES).join(", ")})`);
  const runs = Math.max(1, Math.floor(Number(values.runs)));
  const floorRuns = Math.max(1, Math.floor(Number(values["floor-runs"])));
  const seed = String(Math.floor(Number(values.seed)));
  const threads = String(Math.max(1, Math.floor(Number(values.threads))));
  const profileArgs = values.profile ? ["--cpu-prof", "--cpu-prof-dir", resolve(values.profile)] : [];

  const shape = scaledShape(scale, dtype);
  const root = await mkdtemp(join(tmpdir(), "mergeval-bench-"));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const benchStarted = performance.now();
  try {
    const cpu = cpus();
    const machine = {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? "unknown",
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      memoryGB: totalmem() / 1e9,
    };
    console.log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.platform}, ${f(machine.memoryGB, 1)} GB RAM`);
    console.log(`merge threads: ${threads}`);

    const genStarted = performance.now();
    const info = await writeModels(root, shape);
    const genSeconds = (performance.now() - genStarted) / 1000;
    const { largest } = info;
    console.log(
      `model: Llama-like, vocab ${shape.vocab}, hidden ${shape.hidden}, intermediate ${shape.intermediate}, ${shape.layers} layers, ${dtype}: ` +
        `${info.tensors} tensors, ${f(info.params / 1e6, 1)}M params, ${f(info.dataBytes / MB, 1)} MB per model (3 models, built in ${f(genSeconds, 1)} s)`,
    );
    console.log(
      `largest tensor: ${largest.name} [${largest.shape.join(", ")}]: ${f(largest.bytes / MB, 1)} MB stored, ${f(largest.f32Bytes / MB, 1)} MB as float32`,
    );

    console.log(
      "recipes: linear and nuslerp weights 0.5/0.5; task arithmetic family weights 0.5/0.5, density 0.5 (over the base); " +
        "slerp t 0.5 between the two experts; no dtype/out_dtype (inputs merged in float32, written in their own dtype)",
    );
    const dirOf = (m: ModelName) => join(root, m);
    const recipes = new Map<string, Recipe>();
    await mkdir(join(root, "configs"));
    for (const method of methods) {
      const recipe = RECIPES[method]!();
      recipes.set(method, recipe);
      const config = { ...recipe.config };
      // Absolute model paths: the YAML works whatever the child's working directory.
      const abs = (x: unknown) => (typeof x === "string" && (MODELS as readonly { name: string }[]).some((m) => m.name === x) ? dirOf(x as ModelName) : x);
      if (Array.isArray(config.models)) config.models = (config.models as Record<string, unknown>[]).map((m) => ({ ...m, model: abs(m.model) }));
      if (config.base_model) config.base_model = abs(config.base_model);
      await writeFile(join(root, "configs", `${method}.yml`), stringify(config));
    }

    const inputSets = new Map<number, ModelName[]>();
    for (const r of recipes.values()) {
      const set: ModelName[] = r.inputs.length === 2 ? ["expert_a", "expert_b"] : ["base", "expert_a", "expert_b"];
      inputSets.set(r.inputs.length, set);
    }
    const floorArgs = (mode: FloorMode, inputs: ModelName[]) => ["floor", mode, join(root, "floor-out.safetensors"), String(info.fileBytes), ...inputs.map(dirOf)];

    // Warm-up: one full read of every input file, so the page cache holds the same for the floor and the merges.
    await runChild(floorArgs("sequential", ["base", "expert_a", "expert_b"]));

    const floors: FloorResult[] = [];
    for (const [inputs] of [...inputSets].sort((a, b) => a[0] - b[0])) {
      for (const mode of FLOOR_MODES) floors.push({ inputs, mode, seconds: [], maxRssKB: 0 });
    }
    const samples = new Map<string, RunReport[]>(methods.map((m) => [m, []]));
    const rounds = Math.max(runs, floorRuns);
    for (let round = 0; round < rounds; round++) {
      if (round < floorRuns) {
        for (const floor of floors) {
          const report = await runChild(floorArgs(floor.mode, inputSets.get(floor.inputs)!));
          floor.seconds.push(report.seconds);
          floor.maxRssKB = Math.max(floor.maxRssKB, report.maxRssKB);
          process.stderr.write(`  floor ${floor.inputs} inputs ${floor.mode}, run ${round + 1}: ${f(report.seconds, 3)} s\n`);
        }
      }
      if (round < runs) {
        for (const method of methods) {
          const outDir = join(root, "out", method);
          try {
            const report = await runChild(["merge", join(root, "configs", `${method}.yml`), outDir, seed, threads], profileArgs);
            samples.get(method)!.push(report);
            process.stderr.write(`  ${method}, run ${round + 1}: ${f(report.seconds, 3)} s, peak RSS ${f((report.maxRssKB * 1024) / MB, 0)} MB\n`);
          } catch (err) {
            process.stderr.write(`  ${method}, run ${round + 1}: FAILED (${(err as Error).message})\n`);
            process.exitCode = 1;
          } finally {
            await rm(outDir, { recursive: true, force: true });
          }
        }
      }
    }

    const floorOf = (inputs: number) => best(floors.filter((x) => x.inputs === inputs).map((x) => best(x.seconds)));
    console.log(`\nfloor (best of ${floorRuns}; read every input byte, write ${f(info.fileBytes / MB, 1)} MB):`);
    console.log(
      table(
        ["inputs", "mode", "best s", "median s", "in MB/s", "peak RSS MB"],
        floors.map((x) => [
          String(x.inputs), x.mode, f(best(x.seconds), 3), f(median(x.seconds), 3),
          f((x.inputs * info.dataBytes) / MB / best(x.seconds), 0), f((x.maxRssKB * 1024) / MB, 0),
        ]),
        [true, false, true, true, true, true],
      ),
    );

    const rssTarget = RSS_TARGET(largest.f32Bytes);
    const results: MethodResult[] = [];
    for (const method of methods) {
      const reports = samples.get(method)!;
      if (reports.length === 0) continue;
      const inputs = recipes.get(method)!.inputs.length;
      const seconds = reports.map((r) => r.seconds);
      const b = best(seconds);
      const floorSeconds = floorOf(inputs);
      const ratio = b / floorSeconds;
      const peak = Math.max(...reports.map((r) => r.maxRssKB)) * 1024;
      const baseline = Math.min(...reports.map((r) => r.baselineRssKB)) * 1024;
      const target = TIME_TARGETS[method];
      results.push({
        method, inputs, seconds, best: b, median: median(seconds),
        inputMBps: (inputs * info.dataBytes) / MB / b,
        outputMBps: reports[0]!.bytes / MB / b,
        floorSeconds, ratio,
        timeTarget: target, timeMet: target === undefined ? undefined : ratio <= target,
        peakRssMB: peak / MB, baselineRssMB: baseline / MB,
        peakOverLargestStored: peak / largest.bytes, peakOverLargestF32: peak / largest.f32Bytes,
        rssTargetMB: rssTarget / MB, rssMet: peak <= rssTarget,
      });
    }
    console.log(`\nmerges (best of ${runs}; time of runMerge alone, in its own process; RSS target ${f(rssTarget / MB, 0)} MB = 3 x largest float32 + 256 MB):`);
    const yesNo = (x: boolean | undefined) => (x === undefined ? "" : x ? "yes" : "NO");
    console.log(
      table(
        ["method", "inputs", "best s", "median s", "in MB/s", "out MB/s", "x floor", "target", "met", "peak RSS MB", "x largest stored", "x largest f32", "RSS met"],
        results.map((r) => [
          r.method, String(r.inputs), f(r.best), f(r.median), f(r.inputMBps, 0), f(r.outputMBps, 0), f(r.ratio, 2),
          r.timeTarget === undefined ? "-" : `<= ${r.timeTarget}`, yesNo(r.timeMet),
          f(r.peakRssMB, 0), f(r.peakOverLargestStored, 1), f(r.peakOverLargestF32, 1), yesNo(r.rssMet),
        ]),
        [false, true, true, true, true, true, true, false, false, true, true, true, false],
      ),
    );
    const baselines = results.map((r) => r.baselineRssMB);
    if (baselines.length) console.log(`(peak RSS includes the child's node + tsx baseline, ${f(Math.min(...baselines), 0)} MB before the merge starts)`);
    const totalSeconds = (performance.now() - benchStarted) / 1000;
    console.log(`total bench time ${f(totalSeconds, 0)} s`);

    if (values.json) {
      const summary = {
        machine,
        model: { shape, ...info, generateSeconds: genSeconds },
        settings: { scale, dtype, runs, floorRuns, seed: Number(seed), threads: Number(threads), profile: values.profile ?? null },
        floors: floors.map((x) => ({ ...x, best: best(x.seconds), median: median(x.seconds), maxRssMB: (x.maxRssKB * 1024) / MB })),
        methods: results,
        totalSeconds,
      };
      await writeFile(resolve(values.json), JSON.stringify(summary, null, 2) + "\n");
      console.log(`JSON summary: ${resolve(values.json)}`);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
