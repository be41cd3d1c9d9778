#!/usr/bin/env node
// Runs the compiled build (dist/, made by `npm ci` and `npm test`) when it is newer than every file and folder
// under src/; otherwise (no build yet, or src/ edited since) the TypeScript sources through tsx, so edited
// code always runs as written.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../", import.meta.url);

/** The newest modification time under dir, folders included (they change when a file is added or removed). */
function newest(dir) {
  let time = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    time = Math.max(time, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return time;
}

function built() {
  try {
    return statSync(new URL("dist/.built", root)).mtimeMs;
  } catch {
    return -Infinity;
  }
}

// Piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
let cli;
if (built() >= newest(fileURLToPath(new URL("src", root)))) {
  cli = await import("../dist/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../src/cli.ts");
}
process.exitCode = await cli.main(process.argv.slice(2));
