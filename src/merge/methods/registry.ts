import { InputError } from "../../errors.ts";
import { closestName } from "../../util/suggest.ts";
import { breadcrumbs } from "./breadcrumbs.ts";
import { breadcrumbsTies } from "./breadcrumbs-ties.ts";
import { dareLinear } from "./dare-linear.ts";
import { dareTies } from "./dare-ties.ts";
import { della } from "./della.ts";
import { dellaLinear } from "./della-linear.ts";
import { linear } from "./linear.ts";
import { modelStock } from "./model-stock.ts";
import { nuslerp } from "./nuslerp.ts";
import { passthrough } from "./passthrough.ts";
import { slerp } from "./slerp.ts";
import { taskArithmetic } from "./task-arithmetic.ts";
import { ties } from "./ties.ts";
import type { MergeMethod } from "./types.ts";

const METHODS: readonly MergeMethod[] = [
  linear, slerp, nuslerp, taskArithmetic, ties, dareTies, dareLinear,
  breadcrumbs, breadcrumbsTies, della, dellaLinear, modelStock, passthrough,
];

const BY_NAME = new Map(METHODS.map((m) => [m.name, m]));

/**
 * Parameters of mergekit methods mergeval does not implement (multislerp, karcher, sce, ram, ramplus_tl):
 * mergekit ignores parameters a method does not read, so in a recipe these are unused, not misspelt.
 */
const OTHER_MERGEKIT_PARAMETERS = ["normalize_weights", "eps", "max_iter", "tol", "select_topk", "r", "alpha"];

/** Methods whose result depends on the seed (random drops). */
export function randomMethodNames(): string[] {
  return METHODS.filter((m) => m.random).map((m) => m.name);
}

export function methodNames(): string[] {
  return [...BY_NAME.keys()];
}

/** Every parameter name some mergekit method reads: anything else in a recipe is a typo. */
export function knownParameterNames(): Set<string> {
  return new Set([...METHODS.flatMap((m) => Object.keys(m.params)), ...OTHER_MERGEKIT_PARAMETERS]);
}

export function getMethod(name: string, where: string): MergeMethod {
  const method = BY_NAME.get(name);
  if (!method) {
    const hint = closestName(name, BY_NAME.keys());
    throw new InputError(`${where}: unknown merge_method "${name}"${hint ? ` (did you mean ${hint}?)` : ""}; known: ${methodNames().join(", ")}`);
  }
  return method;
}
