/**
 * Start-up benchmark: how long `mergeval` takes to answer what needs none of its commands' dependencies (help,
 * version, a bad flag), as a user feels it: a whole process each time, the median of --runs, against a bare
 * `node -e 0` measured in the same run, with each process's peak RSS. Also, for comparison: src/ through tsx (what
 * the bin runs while dist/ is stale), `npx mergeval --help` once, and the bin's freshness check on its own.
 * It measures; it never fails because of a time.
 *
 *   npm run bench -- --suite startup [--runs 10] [--bin OTHER_CHECKOUT/bin/mergeval.js]
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "10" }, bin: { type: "string" } }, strict: false });
const runs = Number(values.runs);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = resolve(typeof values.bin === "string" ? values.bin : `${root}/bin/mergeval.js`);
const binRoot = resolve(dirname(bin), "..");

// Preloaded into every measured process (the baseline too): writes its peak RSS (KB) to fd 3 as it exits.
const rssHook = `import { writeSync } from "node:fs";
process.on("exit", () => { try { writeSync(3, process.resourceUsage().maxRSS + "\\n"); } catch {} });`;
const preload = ["--import", `data:text/javascript,${encodeURIComponent(rssHook)}`];

interface Sample {
  ms: number;
  rssMB?: number;
}

function once(command: string, args: string[]): Sample {
  const started = performance.now();
  const child = spawnSync(command, args, { cwd: binRoot, stdio: ["ignore", "ignore", "pipe", "pipe"], encoding: "utf8" });
  const ms = performance.now() - started;
  if (child.error) throw child.error;
  const rss = Number.parseInt(String(child.output[3] ?? ""), 10);
  return { ms, ...(Number.isFinite(rss) ? { rssMB: rss / 1024 } : {}) };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function measure(args: string[], times = runs): { ms: number; rssMB?: number } {
  const samples = Array.from({ length: times }, () => once(process.execPath, [...preload, ...args]));
  const rss = samples.flatMap((s) => (s.rssMB === undefined ? [] : [s.rssMB]));
  return { ms: median(samples.map((s) => s.ms)), ...(rss.length ? { rssMB: median(rss) } : {}) };
}

const fromSources = (argv: string[]) => [
  "--input-type=module",
  "-e",
  `import { register } from "tsx/esm/api"; register(); const { main } = await import(${JSON.stringify(`${binRoot}/src/cli.ts`)}); process.exitCode = await main(${JSON.stringify(argv)});`,
];

const cases: [string, string[]][] = [
  ["mergeval --help", [bin, "--help"]],
  ["mergeval --version", [bin, "--version"]],
  ["mergeval merge (bad flag)", [bin, "merge", "a.yml", "out", "--bogus"]],
  ["mergeval run --help", [bin, "run", "--help"]],
  ["src/ through tsx: --help", fromSources(["--help"])],
];

const fresh = spawnSync(process.execPath, ["--input-type=module", "-e", `const { distIsFresh } = await import(${JSON.stringify(`${binRoot}/bin/fresh.js`)}); console.log(distIsFresh())`], {
  encoding: "utf8",
});
console.log(`start-up of ${bin}: median of ${runs} runs, each a whole process; node ${process.version}, ${cpus().length} CPUs`);
console.log(`  dist/ ${fresh.stdout.trim() === "true" ? "is fresh: the bin runs the compiled build" : "is missing or stale (or this checkout has no bin/fresh.js): the bin runs src/ through tsx; npm run build first"}`);

const node = measure(["-e", "0"]);
const row = (label: string, r: { ms: number; rssMB?: number }) =>
  console.log(`  ${label.padEnd(28)} ${r.ms.toFixed(0).padStart(6)} ms  ${(r.ms / node.ms).toFixed(1).padStart(5)}× node  ${r.rssMB === undefined ? "     —" : `${r.rssMB.toFixed(0).padStart(4)} MB`}`);
row("node -e 0", node);
for (const [label, args] of cases) row(label, measure(args));
row("npx node -e 0 (once)", once("npx", ["node", "-e", "0"])); // what npx itself costs
row("npx mergeval --help (once)", once("npx", ["mergeval", "--help"]));

const check = Array.from({ length: runs }, () => {
  const script = `const { distIsFresh } = await import(${JSON.stringify(`${binRoot}/bin/fresh.js`)}); const t = performance.now(); distIsFresh(); console.log(performance.now() - t);`;
  return Number.parseFloat(spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).stdout);
});
if (check.every(Number.isFinite)) console.log(`  freshness check alone        ${median(check).toFixed(2).padStart(6)} ms  (stats every file and folder under src/, in a new process)`);
