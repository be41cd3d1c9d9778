import { InputError } from "../errors.ts";

export interface SweepPoint {
  /** The merge's name: the entry's name, plus `-var<value>` per variable for sweep members. */
  name: string;
  recipe: Record<string, unknown>;
  /** The grid point (absent for a plain merge). */
  point?: Record<string, number>;
}

const PLACEHOLDER = /^\$\{\s*(1\s*-\s*)?([A-Za-z_]\w*)\s*\}$/;

/**
 * Expands a merge entry's grid into one recipe per combination. In the recipe, a value written `${w}` takes the
 * variable's value and `${1-w}` its complement (the two weights of a two-model linear merge); a variable that
 * appears nowhere becomes a global `parameters.<var>` (t, density, weight…).
 */
export function expandSweep(name: string, recipe: Record<string, unknown>, sweep: Record<string, number[]> | undefined, where: string): SweepPoint[] {
  const variables = Object.keys(sweep ?? {});
  if (!sweep || variables.length === 0) {
    const stray = stringsWithPlaceholders(recipe);
    if (stray.length) throw new InputError(`${where}: "${stray[0]}" uses a placeholder but there is no sweep`);
    return [{ name, recipe }];
  }
  const used = placeholdersIn(recipe);
  for (const v of used) if (!(v in sweep)) throw new InputError(`${where}: \${${v}} is not a sweep variable (${variables.join(", ")})`);
  return grid(sweep).map((point) => {
    const filled = substitute(recipe, point, where) as Record<string, unknown>;
    const globals = variables.filter((v) => !used.has(v));
    if (globals.length) {
      const parameters = { ...((filled.parameters as Record<string, unknown> | undefined) ?? {}) };
      for (const v of globals) parameters[v] = point[v];
      filled.parameters = parameters;
    }
    return { name: `${name}-${variables.map((v) => `${v}${point[v]}`).join("-")}`, recipe: filled, point };
  });
}

/** Every combination of the variables' values, the first variable varying slowest. */
function grid(sweep: Record<string, number[]>): Record<string, number>[] {
  let points: Record<string, number>[] = [{}];
  for (const [variable, values] of Object.entries(sweep)) points = points.flatMap((p) => values.map((v) => ({ ...p, [variable]: v })));
  return points;
}

function placeholdersIn(value: unknown, found = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    const m = PLACEHOLDER.exec(value);
    if (m) found.add(m[2]!);
  } else if (Array.isArray(value)) value.forEach((v) => placeholdersIn(v, found));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => placeholdersIn(v, found));
  return found;
}

function substitute(value: unknown, point: Record<string, number>, where: string): unknown {
  if (typeof value === "string") {
    const m = PLACEHOLDER.exec(value);
    if (!m) {
      if (value.includes("${")) throw new InputError(`${where}: "${value}": a placeholder must be the whole value, \${var} or \${1-var}`);
      return value;
    }
    const v = point[m[2]!]!;
    // Rounded so 1 − 0.7 is 0.3 in the recipe, not 0.30000000000000004.
    return m[1] ? Math.round((1 - v) * 1e12) / 1e12 : v;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, point, where));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, point, where)]));
  return value;
}

function stringsWithPlaceholders(value: unknown): string[] {
  if (typeof value === "string") return value.includes("${") ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(stringsWithPlaceholders);
  if (value && typeof value === "object") return Object.values(value).flatMap(stringsWithPlaceholders);
  return [];
}
