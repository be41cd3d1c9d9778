#!/usr/bin/env node
// Runs the compiled build (dist/, made by `npm ci` and `npm test`) while it is the build of src/ as it is now;
// otherwise (no build yet, or src/ edited since) the TypeScript sources through tsx: edited code runs as written.
import { distIsFresh } from "./fresh.js";

// Piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
let cli;
if (distIsFresh()) {
  cli = await import("../dist/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../src/cli.ts");
}
process.exitCode = await cli.main(process.argv.slice(2));
