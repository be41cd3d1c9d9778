#!/usr/bin/env node
// `npm run build` (also run by `npm ci`, as prepare, and by `npm test`): compiles src/ to dist/ and stamps it
// with the time the build started. bin/mergeval.js runs dist/ only while nothing under src/ is newer.
import { spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

process.chdir(fileURLToPath(new URL("..", import.meta.url)));
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  console.error("mergeval build: typescript is not installed (no dev dependencies): skipped, src/ runs through tsx");
  process.exit(0);
}
const started = new Date();
const next = `dist.${process.pid}`;
// Transpile only, like tsx: type errors are `npm test`'s and `npm run typecheck`'s to report.
const { status } = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--noCheck", "--outDir", next], { stdio: "inherit" });
if (status !== 0 || !existsSync(`${next}/cli.js`)) {
  rmSync(next, { recursive: true, force: true });
  process.exit(status || 1);
}
writeFileSync(`${next}/.built`, "");
utimesSync(`${next}/.built`, started, started);
// Swapped in by renames, so a mergeval starting meanwhile sees a whole build, or none and runs src/ through tsx.
const old = `dist.old.${process.pid}`;
for (const [from, to] of [["dist", old], [next, "dist"]]) {
  try {
    renameSync(from, to);
  } catch {
    // No build yet, or another build (npm test elsewhere in this tree) swapped first: keep its, it is stamped too.
  }
}
rmSync(old, { recursive: true, force: true });
rmSync(next, { recursive: true, force: true });
