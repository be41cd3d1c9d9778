import { readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * "Did you mean …?" for misspelt names: the closest candidate by edit distance, when it is close enough to be
 * a likely typo rather than a different word.
 */

/** Edit distance counting insertions, deletions, substitutions and swaps of adjacent letters ("langauges"). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate nearest to `word`, if within about a third of its length (at least one edit). */
export function closestName(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** ` — did you mean "x"?`, or "" when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const name = closestName(word, candidates);
  return name === undefined ? "" : ` — did you mean "${name}"?`;
}

/**
 * ` — did you mean "…"?` naming a folder beside the missing `path` whose name is close to its last part, written
 * the way the user wrote `path` (relative stays relative); "" when there is none.
 */
export function closeFolderHint(path: string, cwd = process.cwd()): string {
  let folders: string[];
  try {
    folders = readdirSync(dirname(resolve(cwd, path)), { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? [entry.name] : []));
  } catch {
    return "";
  }
  const name = closestName(basename(path), folders);
  return name === undefined ? "" : ` — did you mean "${join(dirname(path), name)}"?`;
}
