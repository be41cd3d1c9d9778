/**
 * Merge benchmark: synthetic Llama-shaped checkpoints of a few hundred MB (3 models: base, expert_a, expert_b),
 * the I/O floor (read every input byte, write one output of the merge's size), each method's merge and, where
 * python3-torch is installed, the torch-CPU stand-in for mergekit (../shared/bench/torch_merge_anchor.py) on the
 * same files. Every run is its own process. Printed side by side, per method: ours and torch's time as a ratio to
 * the floor, ours against torch, and peak RSS against the target. It measures; it never fails because of a time.
 *
 * Two clocks: "run" is the merge alone (runMerge in a bare child, imports excluded; torch's own "after imports"),
 * "process" is the whole process as a user feels it (`node bin/mergeval.js merge …`, `python3 anchor.py …`,
 * start-up and imports included). The machine may be shared: the best of --runs is reported, with CPU seconds.
 *
 *   npm run bench -- --suite merge [--scale 1] [--dtype F32|BF16|F16] [--methods linear,ties|all] [--runs 3]
 *                    [--floor-runs 5] [--seed 0] [--threads N] [--models DIR] [--no-process] [--no-torch]
 *                    [--json PATH] [--profile DIR]
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
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

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "bench", "merge-one.ts");
const CLI = join(ROOT, "bin", "mergeval.js");
const DEFAULT_ANCHOR = resolve(ROOT, "..", "shared", "bench", "torch_merge_anchor.py");
const MB = 1e6;
const TORCH_INSTALL = "apt-get update && apt-get install -y python3-torch python3-numpy   (Debian's torch; benchmark-only, not a project dependency)";

const HELP = `Usage: npm run bench -- --suite merge [options]

  --scale X          model size relative to the default (vocab 32000, hidden 1024, intermediate 2816, 8 layers:
                     168M parameters, 673 MB per model in F32); e.g. 0.25 for a quick run (default 1)
  --dtype D          F32 (default), BF16 or F16
  --methods LIST     comma-separated merge methods, or "all" (default: ${defaultMethods().join(",")})
  --runs N           runs per method and clock; the best is reported (default 3)
  --floor-runs N     floor runs per input count and mode; the best is reported (default 5)
  --seed N           DARE/DELLA seed (default 0)
  --threads N        --threads for the merges (default: the engine's own default)
  --models DIR       keep the synthetic checkpoints in DIR and reuse them next time (default: a temporary folder)
  --no-process       skip the whole-process runs of the CLI
  --no-torch         skip the torch stand-in
  --torch-anchor F   the stand-in script (default ../shared/bench/torch_merge_anchor.py)
  --json PATH        also write a JSON summary to PATH
  --profile DIR      run the merges with --cpu-prof into DIR (times then include the profiler's overhead)
  -h, --help         this help

MB are 10^6 bytes. Targets (issue 13; printed, never enforced): linear, task_arithmetic, slerp within 1.5x of the
floor; TIES, DARE, DELLA and breadcrumbs within 2x; peak RSS at most 3x the largest tensor as float32 + 128 MB;
at least 2x faster than the torch stand-in on the methods it implements (linear, ties).
The torch stand-in needs python3 with torch and numpy: ${TORCH_INSTALL}`;

// ---------------------------------------------------------------- methods and their recipes

type ModelName = "base" | "expert_a" | "expert_b";
interface Recipe {
  config: Record<string, unknown>;
  inputs: ModelName[];
  /** The same merge in the torch stand-in: its method name and inputs (linear averages them; ties: base first, density 0.5, weights 1/n). */
  torch?: { method: "linear" | "ties"; inputs: ModelName[] };
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
    torch: { method: "linear", inputs: ["expert_a", "expert_b"] },
  }),
  task_arithmetic: () => withBase("task_arithmetic", W),
  slerp: () => ({
    config: { models: [{ model: "expert_a" }, { model: "expert_b" }], merge_method: "slerp", base_model: "expert_a", parameters: { t: 0.5 } },
    inputs: ["expert_a", "expert_b"],
  }),
  ties: () => ({ ...withBase("ties", WD), torch: { method: "ties", inputs: ["base", "expert_a", "expert_b"] } }),
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
  return ["linear", "task_arithmetic", "slerp", "ties", "dare_ties", "dare_linear", "breadcrumbs", "della", "model_stock", "nuslerp"];
}

/** The issue's time targets, as a multiple of the floor; methods not named there have none. */
const TIME_TARGETS: Record<string, number> = {
  linear: 1.5, task_arithmetic: 1.5, slerp: 1.5,
  ties: 2, dare_ties: 2, dare_linear: 2, della: 2, della_linear: 2, breadcrumbs: 2, breadcrumbs_ties: 2,
};
const RSS_TARGET = (largestF32: number) => 3 * largestF32 + 128 * MB;
const TORCH_TARGET = 2;

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
async function writeModels(root: string, shape: TinyModelShape): Promise<void> {
  const planned = plannedTensors(shape);
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
}

function plannedTensors(shape: TinyModelShape) {
  return tinyTensorShapes(shape).map(([name, dims]) => ({ name, dtype: shape.dtype, shape: dims }));
}

async function modelInfo(root: string, shape: TinyModelShape): Promise<ModelInfo> {
  const planned = plannedTensors(shape);
  const numels = planned.map((t) => t.shape.reduce((a, b) => a * b, 1));
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

const STAMP = "bench-models.json";

/** The three checkpoints under `root`: reused when a stamp says they were built for this shape, else written. */
async function ensureModels(root: string, shape: TinyModelShape): Promise<{ info: ModelInfo; reused: boolean }> {
  const stamp = join(root, STAMP);
  const wanted = JSON.stringify(shape);
  const reused = existsSync(stamp) && (await readFile(stamp, "utf8")) === wanted && MODELS.every((m) => existsSync(join(root, m.name, "model.safetensors")));
  if (!reused) {
    await rm(stamp, { force: true });
    await writeModels(root, shape);
    await writeFile(stamp, wanted);
  }
  return { info: await modelInfo(root, shape), reused };
}

// ---------------------------------------------------------------- child runs

interface Sample {
  seconds: number;
  /** User + system CPU seconds. */
  cpuSeconds: number;
  maxRssKB: number;
}

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

const GNU_TIME = "/usr/bin/time";
const TIME_MARK = "BENCH-RUSAGE";

/**
 * A whole process, timed from outside (spawn to exit). Peak RSS and CPU come from GNU time when it is installed
 * (Debian's `time` package); without it they are NaN. Returns the process's stdout too.
 */
async function runProcess(command: string, args: string[]): Promise<Sample & { stdout: string }> {
  const timed = existsSync(GNU_TIME);
  const [cmd, argv] = timed ? [GNU_TIME, ["-f", `${TIME_MARK} %M %U %S`, command, ...args]] : [command, args];
  const started = performance.now();
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const code = await new Promise<number | null>((done, fail) => {
    child.on("error", fail);
    child.on("close", done);
  });
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}:\n${stderr.trim().split("\n").slice(-5).join("\n")}`);
  const mark = /BENCH-RUSAGE (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
  return {
    seconds,
    maxRssKB: mark ? Number(mark[1]) : NaN,
    cpuSeconds: mark ? Number(mark[2]) + Number(mark[3]) : NaN,
    stdout,
  };
}

/** A python3 that imports torch and numpy (Debian's first), or undefined. */
function findTorchPython(): string | undefined {
  for (const python of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(python, ["-c", "import torch, numpy"], { stdio: "ignore" });
    if (probe.status === 0) return python;
  }
  return undefined;
}

// ---------------------------------------------------------------- statistics and formatting

const best = (xs: number[]) => Math.min(...xs);
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
/** The sample with the best time. */
const bestOf = (xs: Sample[]): Sample | undefined => (xs.length ? xs.reduce((a, b) => (b.seconds < a.seconds ? b : a)) : undefined);

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "-");

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
  floorSeconds: number;
  run: { best: number; median: number; cpu: number; ratio: number; peakRssMB: number; baselineRssMB: number; seconds: number[] };
  process?: { best: number; median: number; cpu: number; ratio: number; peakRssMB: number; seconds: number[] };
  torch?: { run: number; process: number; cpu: number; runRatio: number; processRatio: number; peakRssMB: number; oursFasterRun: number; oursFasterProcess: number };
  timeTarget: number | undefined;
  timeMet: boolean | undefined;
  rssTargetMB: number;
  rssMet: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: "string", default: "1" },
      dtype: { type: "string", default: "F32" },
      methods: { type: "string" },
      runs: { type: "string", default: "3" },
      "floor-runs": { type: "string", default: "5" },
      seed: { type: "string", default: "0" },
      threads: { type: "string" },
      models: { type: "string" },
      "no-process": { type: "boolean" },
      "no-torch": { type: "boolean" },
      "torch-anchor": { type: "string", default: DEFAULT_ANCHOR },
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
  const threads = values.threads === undefined ? undefined : String(Math.max(1, Math.floor(Number(values.threads))));
  const profileArgs = values.profile ? ["--cpu-prof", "--cpu-prof-dir", resolve(values.profile)] : [];
  const withProcess = !values["no-process"];

  const shape = scaledShape(scale, dtype);
  const work = await mkdtemp(join(tmpdir(), "mergeval-bench-"));
  const modelsRoot = values.models ? resolve(values.models) : work;
  const cleanup = () => rmSync(work, { recursive: true, force: true });
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
    console.log(`merge threads: ${threads ?? "the engine's default"}`);

    const genStarted = performance.now();
    const { info, reused } = await ensureModels(modelsRoot, shape);
    const genSeconds = (performance.now() - genStarted) / 1000;
    const { largest } = info;
    console.log(
      `model: Llama-like, vocab ${shape.vocab}, hidden ${shape.hidden}, intermediate ${shape.intermediate}, ${shape.layers} layers, ${dtype}: ` +
        `${info.tensors} tensors, ${f(info.params / 1e6, 1)}M params, ${f(info.dataBytes / MB, 1)} MB per model ` +
        `(3 models ${reused ? `reused from ${modelsRoot}` : `built in ${f(genSeconds, 1)} s`})`,
    );
    console.log(
      `largest tensor: ${largest.name} [${largest.shape.join(", ")}]: ${f(largest.bytes / MB, 1)} MB stored, ${f(largest.f32Bytes / MB, 1)} MB as float32`,
    );
    console.log(
      "recipes: linear and nuslerp weights 0.5/0.5; task arithmetic family weights 0.5/0.5, density 0.5 (over the base); " +
        "slerp t 0.5 between the two experts; no dtype/out_dtype (inputs merged in float32, written in their own dtype)",
    );

    let torchPython: string | undefined;
    const anchor = resolve(values["torch-anchor"]);
    const wantsTorch = !values["no-torch"] && methods.some((m) => RECIPES[m]!().torch);
    if (wantsTorch) {
      torchPython = existsSync(anchor) ? findTorchPython() : undefined;
      if (!existsSync(anchor)) console.log(`torch stand-in: skipped, ${anchor} not found (--torch-anchor PATH)`);
      else if (!torchPython) console.log(`torch stand-in: skipped, no python3 with torch and numpy. Install it with:\n  ${TORCH_INSTALL}`);
      else {
        const version = spawnSync(torchPython, ["-c", "import torch; print(torch.__version__, torch.get_num_threads())"], { encoding: "utf8" }).stdout.trim().split(" ");
        console.log(`torch stand-in: ${anchor} with ${torchPython} (torch ${version[0]}, ${version[1]} threads)`);
      }
    }
    const dist = spawnSync(process.execPath, ["-e", `import(${JSON.stringify(join(ROOT, "bin", "fresh.js"))}).then((m) => console.log(m.distIsFresh()))`], { encoding: "utf8" }).stdout.trim();
    if (withProcess) console.log(`whole process: node bin/mergeval.js merge … -q (${dist === "true" ? "the compiled dist/" : "src/ through tsx: dist/ is stale or absent; `npm run build` first to time the compiled CLI"})`);

    const dirOf = (m: ModelName) => join(modelsRoot, m);
    const recipes = new Map<string, Recipe>();
    await mkdir(join(work, "configs"));
    for (const method of methods) {
      const recipe = RECIPES[method]!();
      recipes.set(method, recipe);
      const config = { ...recipe.config };
      // Absolute model paths: the YAML works whatever the child's working directory.
      const abs = (x: unknown) => (typeof x === "string" && (MODELS as readonly { name: string }[]).some((m) => m.name === x) ? dirOf(x as ModelName) : x);
      if (Array.isArray(config.models)) config.models = (config.models as Record<string, unknown>[]).map((m) => ({ ...m, model: abs(m.model) }));
      if (config.base_model) config.base_model = abs(config.base_model);
      await writeFile(join(work, "configs", `${method}.yml`), stringify(config));
    }

    const inputSets = new Map<number, ModelName[]>();
    for (const r of recipes.values()) {
      const set: ModelName[] = r.inputs.length === 2 ? ["expert_a", "expert_b"] : ["base", "expert_a", "expert_b"];
      inputSets.set(r.inputs.length, set);
    }
    const floorArgs = (mode: FloorMode, inputs: ModelName[]) => ["floor", mode, join(work, "floor-out.safetensors"), String(info.fileBytes), ...inputs.map(dirOf)];

    // Warm-up: one full read of every input file, so the page cache holds the same for the floor and the merges.
    await runChild(floorArgs("sequential", ["base", "expert_a", "expert_b"]));

    const floors: FloorResult[] = [];
    for (const [inputs] of [...inputSets].sort((a, b) => a[0] - b[0])) {
      for (const mode of FLOOR_MODES) floors.push({ inputs, mode, seconds: [], maxRssKB: 0 });
    }
    const runSamples = new Map<string, RunReport[]>(methods.map((m) => [m, []]));
    const processSamples = new Map<string, Sample[]>(methods.map((m) => [m, []]));
    const torchSamples = new Map<string, (Sample & { run: number })[]>(methods.map((m) => [m, []]));
    const rounds = Math.max(runs, floorRuns);
    const threadArgs = threads ? ["--threads", threads] : [];
    for (let round = 0; round < rounds; round++) {
      if (round < floorRuns) {
        for (const floor of floors) {
          const report = await runChild(floorArgs(floor.mode, inputSets.get(floor.inputs)!));
          floor.seconds.push(report.seconds);
          floor.maxRssKB = Math.max(floor.maxRssKB, report.maxRssKB);
          process.stderr.write(`  floor ${floor.inputs} inputs ${floor.mode}, run ${round + 1}: ${f(report.seconds, 3)} s\n`);
        }
      }
      if (round >= runs) continue;
      for (const method of methods) {
        const outDir = join(work, "out", method);
        const config = join(work, "configs", `${method}.yml`);
        try {
          const report = await runChild(["merge", config, outDir, seed, threads ?? ""], profileArgs);
          runSamples.get(method)!.push(report);
          await rm(outDir, { recursive: true, force: true });
          let line = `  ${method}, run ${round + 1}: ${f(report.seconds, 3)} s, cpu ${f(report.cpuSeconds, 2)} s, peak RSS ${f((report.maxRssKB * 1024) / MB, 0)} MB`;
          if (withProcess) {
            const whole = await runProcess(process.execPath, [CLI, "merge", config, outDir, "--seed", seed, ...threadArgs, "-q"]);
            processSamples.get(method)!.push(whole);
            await rm(outDir, { recursive: true, force: true });
            line += `; process ${f(whole.seconds, 3)} s, ${f((whole.maxRssKB * 1024) / MB, 0)} MB`;
          }
          const torch = recipes.get(method)!.torch;
          if (torch && torchPython) {
            const out = join(work, "torch-out.safetensors");
            const files = torch.inputs.map((m) => join(dirOf(m), "model.safetensors"));
            const whole = await runProcess(torchPython, [anchor, torch.method, out, ...files]);
            await rm(out, { force: true });
            const run = Number(/in ([\d.]+) s after imports/.exec(whole.stdout)?.[1]);
            torchSamples.get(method)!.push({ ...whole, run });
            line += `; torch ${f(run, 3)} s after imports, ${f(whole.seconds, 3)} s process, ${f((whole.maxRssKB * 1024) / MB, 0)} MB`;
          }
          process.stderr.write(line + "\n");
        } catch (err) {
          process.stderr.write(`  ${method}, run ${round + 1}: FAILED (${(err as Error).message})\n`);
          process.exitCode = 1;
        } finally {
          await rm(outDir, { recursive: true, force: true });
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
      const reports = runSamples.get(method)!;
      if (reports.length === 0) continue;
      const inputs = recipes.get(method)!.inputs.length;
      const floorSeconds = floorOf(inputs);
      const seconds = reports.map((r) => r.seconds);
      const bestRun = reports.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const runPeak = (Math.max(...reports.map((r) => r.maxRssKB)) * 1024) / MB;
      const wholes = processSamples.get(method)!;
      const bestWhole = bestOf(wholes);
      const wholePeak = wholes.length ? (Math.max(...wholes.map((r) => r.maxRssKB)) * 1024) / MB : NaN;
      const torches = torchSamples.get(method)!;
      const bestTorch = bestOf(torches);
      const torchRun = torches.length ? best(torches.map((t) => t.run)) : NaN;
      const target = TIME_TARGETS[method];
      const ratio = bestRun.seconds / floorSeconds;
      const peak = Math.max(runPeak, Number.isFinite(wholePeak) ? wholePeak : 0);
      results.push({
        method, inputs, floorSeconds,
        run: {
          best: bestRun.seconds, median: median(seconds), cpu: bestRun.cpuSeconds, ratio, seconds,
          peakRssMB: runPeak, baselineRssMB: (Math.min(...reports.map((r) => r.baselineRssKB)) * 1024) / MB,
        },
        process: bestWhole && {
          best: bestWhole.seconds, median: median(wholes.map((w) => w.seconds)), cpu: bestWhole.cpuSeconds,
          ratio: bestWhole.seconds / floorSeconds, peakRssMB: wholePeak, seconds: wholes.map((w) => w.seconds),
        },
        torch: bestTorch && {
          run: torchRun, process: bestTorch.seconds, cpu: bestTorch.cpuSeconds,
          runRatio: torchRun / floorSeconds, processRatio: bestTorch.seconds / floorSeconds,
          peakRssMB: (Math.max(...torches.map((t) => t.maxRssKB)) * 1024) / MB,
          oursFasterRun: torchRun / bestRun.seconds,
          oursFasterProcess: bestWhole ? bestTorch.seconds / bestWhole.seconds : NaN,
        },
        timeTarget: target, timeMet: target === undefined ? undefined : ratio <= target,
        rssTargetMB: rssTarget / MB, rssMet: peak * MB <= rssTarget,
      });
    }

    const yesNo = (x: boolean | undefined) => (x === undefined ? "" : x ? "yes" : "NO");
    console.log(
      `\nmerges, best of ${runs} (x floor = time / the best floor of the same inputs; "run" excludes start-up and imports, ` +
        `"proc" is the whole process; torch x = how many times faster ours is than the torch stand-in, target >= ${TORCH_TARGET}):`,
    );
    console.log(
      table(
        ["method", "in", "run s", "x floor", "target", "met", "cpu s", "proc s", "x floor", "torch run", "x floor", "torch proc", "x floor", "torch x run", "torch x proc"],
        results.map((r) => [
          r.method, String(r.inputs), f(r.run.best), f(r.run.ratio), r.timeTarget === undefined ? "-" : `<= ${r.timeTarget}`, yesNo(r.timeMet),
          f(r.run.cpu), f(r.process?.best ?? NaN), f(r.process?.ratio ?? NaN),
          f(r.torch?.run ?? NaN), f(r.torch?.runRatio ?? NaN), f(r.torch?.process ?? NaN), f(r.torch?.processRatio ?? NaN),
          f(r.torch?.oursFasterRun ?? NaN), f(r.torch?.oursFasterProcess ?? NaN),
        ]),
        [false, true, true, true, false, false, true, true, true, true, true, true, true, true, true],
      ),
    );
    console.log(`\npeak RSS (target ${f(rssTarget / MB, 0)} MB = 3 x largest float32 + 128 MB):`);
    console.log(
      table(
        ["method", "run MB", "x largest f32", "proc MB", "torch MB", "met"],
        results.map((r) => [
          r.method, f(r.run.peakRssMB, 0), f((r.run.peakRssMB * MB) / largest.f32Bytes, 1), f(r.process?.peakRssMB ?? NaN, 0),
          f(r.torch?.peakRssMB ?? NaN, 0), yesNo(r.rssMet),
        ]),
        [false, true, true, true, true, false],
      ),
    );
    const baselines = results.map((r) => r.run.baselineRssMB);
    if (baselines.length) console.log(`(run RSS includes the child's node + tsx baseline, ${f(Math.min(...baselines), 0)} MB before the merge starts)`);
    if (withProcess && !existsSync(GNU_TIME)) console.log("(whole-process RSS and CPU need GNU time: apt-get install -y time)");
    const totalSeconds = (performance.now() - benchStarted) / 1000;
    console.log(`total bench time ${f(totalSeconds, 0)} s`);

    if (values.json) {
      const summary = {
        machine,
        model: { shape, ...info, generateSeconds: genSeconds, reused },
        settings: { scale, dtype, runs, floorRuns, seed: Number(seed), threads: threads ? Number(threads) : null, profile: values.profile ?? null, torch: torchPython ?? null },
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
