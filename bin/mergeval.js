#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npm ci` is the only install step.
import { register } from "tsx/esm/api";

register();
// Piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const { main } = await import("../src/cli.ts");
process.exitCode = await main(process.argv.slice(2));
