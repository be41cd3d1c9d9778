import { InputError } from "../../errors.ts";
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

export function methodNames(): string[] {
  return [...BY_NAME.keys()];
}

export function getMethod(name: string, where: string): MergeMethod {
  const method = BY_NAME.get(name);
  if (!method) {
    const hint = BY_NAME.has(name.replace(/-/g, "_")) ? ` (did you mean ${name.replace(/-/g, "_")}?)` : "";
    throw new InputError(`${where}: unknown merge_method "${name}"${hint}; known: ${methodNames().join(", ")}`);
  }
  return method;
}
