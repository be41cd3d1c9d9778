import { InputError } from "../../errors.ts";
import { closestName } from "../../util/suggest.ts";
import { arceeFusion } from "./arcee-fusion.ts";
import { breadcrumbs } from "./breadcrumbs.ts";
import { breadcrumbsTies } from "./breadcrumbs-ties.ts";
import { dareLinear } from "./dare-linear.ts";
import { dareTies } from "./dare-ties.ts";
import { della } from "./della.ts";
import { dellaLinear } from "./della-linear.ts";
import { karcher } from "./karcher.ts";
import { linear } from "./linear.ts";
import { modelStock } from "./model-stock.ts";
import { multislerp } from "./multislerp.ts";
import { nearswap } from "./nearswap.ts";
import { nuslerp } from "./nuslerp.ts";
import { passthrough } from "./passthrough.ts";
import { ram } from "./ram.ts";
import { ramplusTl } from "./ramplus-tl.ts";
import { sce } from "./sce.ts";
import { slerp } from "./slerp.ts";
import { taskArithmetic } from "./task-arithmetic.ts";
import { ties } from "./ties.ts";
import type { MergeMethod } from "./types.ts";

const METHODS: readonly MergeMethod[] = [
  linear, slerp, nuslerp, taskArithmetic, ties, dareTies, dareLinear,
  breadcrumbs, breadcrumbsTies, della, dellaLinear, modelStock, passthrough,
  multislerp, karcher, sce, nearswap, arceeFusion, ram, ramplusTl,
];

const BY_NAME = new Map(METHODS.map((m) => [m.name, m]));

/** Methods whose result depends on the seed (random drops, arcee_fusion's quantile samples). */
export function randomMethodNames(): string[] {
  return METHODS.filter((m) => m.random).map((m) => m.name);
}

export function methodNames(): string[] {
  return [...BY_NAME.keys()];
}

/**
 * Every parameter name some mergekit method reads: anything else in a recipe is a typo. Every mergekit method is
 * implemented, so this is the union of their declared parameters.
 */
export function knownParameterNames(): Set<string> {
  return new Set(METHODS.flatMap((m) => Object.keys(m.params)));
}

export function getMethod(name: string, where: string): MergeMethod {
  const method = BY_NAME.get(name);
  if (!method) {
    const hint = closestName(name, BY_NAME.keys());
    throw new InputError(`${where}: unknown merge_method "${name}"${hint ? ` (did you mean ${hint}?)` : ""}; known: ${methodNames().join(", ")}`);
  }
  return method;
}
