/**
 * `npm run bench`: every benchmark suite, each in its own process.
 *   npm run bench                                  merge, generate, local and startup, with their defaults
 *   npm run bench -- --suite merge [merge flags]   one suite; its own flags follow (see bench/merge.ts, bench/generate.ts)
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SUITES = ["merge", "generate", "local", "startup"] as const;
const args = process.argv.slice(2);
const at = args.indexOf("--suite");
const chosen = at >= 0 ? args[at + 1] : undefined;
const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
if (chosen !== undefined && !(SUITES as readonly string[]).includes(chosen)) {
  console.error(`--suite: one of ${SUITES.join(", ")}`);
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
for (const suite of chosen ? [chosen] : SUITES) {
  console.log(`\n=== ${suite} benchmark ===`);
  const suiteArgs = chosen || suite === "merge" ? rest : [];
  const result = spawnSync(process.execPath, ["--import", "tsx", join(here, `${suite}.ts`), ...suiteArgs], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
