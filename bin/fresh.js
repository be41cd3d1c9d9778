// Whether dist/ is the build of src/ as it is now: no file or folder under src/ changed since the build started
// (build.js stamps dist/.built with that time; a folder's time changes when a file is added, removed or renamed).
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export function distIsFresh() {
  let built;
  try {
    built = statSync(`${root}dist/.built`).mtimeMs;
  } catch {
    return false;
  }
  return !changedSince(`${root}src`, built);
}

function changedSince(dir, time) {
  if (statSync(dir).mtimeMs > time) return true;
  return readdirSync(dir, { withFileTypes: true }).some((entry) => {
    const path = `${dir}/${entry.name}`;
    return entry.isDirectory() ? changedSince(path, time) : statSync(path).mtimeMs > time;
  });
}
