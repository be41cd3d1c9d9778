/**
 * One measured run, in its own process so its peak RSS is its own (spawned by bench/merge.ts):
 *   node --import tsx bench/merge-one.ts merge CONFIG.yml OUT_DIR [SEED] [THREADS]
 *   node --import tsx bench/merge-one.ts floor tensor|sequential OUT_FILE OUT_BYTES MODEL_DIR...
 * Prints one JSON line on stdout: wall and CPU (user + system) seconds of the run itself (process start and
 * imports excluded), peak RSS (KB) at the end and before the run. An empty THREADS leaves the engine's default.
 */
import { performance } from "node:perf_hooks";
import { runMerge } from "../src/merge/index.ts";
import { FLOOR_MODES, runFloor, type FloorMode } from "./floor.ts";

export interface RunReport {
  seconds: number;
  cpuSeconds: number;
  maxRssKB: number;
  baselineRssKB: number;
  bytes: number;
}

async function main(argv: string[]): Promise<RunReport> {
  const [kind, ...rest] = argv;
  const baselineRssKB = process.resourceUsage().maxRSS;
  const cpuAtStart = process.cpuUsage();
  const cpuSeconds = () => {
    const used = process.cpuUsage(cpuAtStart);
    return (used.user + used.system) / 1e6;
  };
  if (kind === "merge") {
    const [configFile, outDir, seed, threads] = rest;
    if (!configFile || !outDir) throw new Error("merge CONFIG.yml OUT_DIR [SEED] [THREADS]");
    const started = performance.now();
    const summary = await runMerge({
      configFile,
      outDir,
      seed: seed ? Number(seed) : 0,
      ...(threads ? { threads: Number(threads) } : {}),
      onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
    });
    const seconds = (performance.now() - started) / 1000;
    return { seconds, cpuSeconds: cpuSeconds(), maxRssKB: process.resourceUsage().maxRSS, baselineRssKB, bytes: summary.bytes };
  }
  if (kind === "floor") {
    const [mode, outFile, outBytes, ...dirs] = rest;
    if (!FLOOR_MODES.includes(mode as FloorMode) || !outFile || !outBytes || dirs.length === 0) {
      throw new Error("floor tensor|sequential OUT_FILE OUT_BYTES MODEL_DIR...");
    }
    const started = performance.now();
    await runFloor(mode as FloorMode, dirs, outFile, Number(outBytes));
    const seconds = (performance.now() - started) / 1000;
    return { seconds, cpuSeconds: cpuSeconds(), maxRssKB: process.resourceUsage().maxRSS, baselineRssKB, bytes: Number(outBytes) };
  }
  throw new Error(`unknown run kind ${kind ?? "(none)"}: merge or floor`);
}

main(process.argv.slice(2)).then(
  (report) => process.stdout.write(JSON.stringify(report) + "\n"),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
