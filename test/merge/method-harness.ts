import { seededRng } from "../../src/merge/rng.ts";
import type { MergeMethod, ParamValue } from "../../src/merge/methods/types.ts";

export interface MethodCall {
  base?: number[];
  models: number[][];
  global?: Record<string, ParamValue>;
  perModel?: Record<string, ParamValue>[];
  shape?: number[];
  seed?: number;
  tensor?: string;
}

/** Runs a method's formula on plain arrays, with its declared defaults filled in, as the planner would. */
export function callMethod(method: MergeMethod, call: MethodCall): number[] {
  const defaults = (scope: "global" | "model") =>
    Object.fromEntries(
      Object.entries(method.params)
        .filter(([, spec]) => spec.scope === scope && spec.default !== undefined)
        .map(([key, spec]) => [key, spec.default!]),
    );
  const tensor = call.tensor ?? "t";
  const result = method.merge({
    tensor,
    shape: call.shape ?? [call.models[0]!.length],
    base: call.base ? Float32Array.from(call.base) : undefined,
    models: call.models.map((m) => Float32Array.from(m)),
    global: { ...defaults("global"), ...call.global },
    perModel: call.models.map((_, i) => ({ ...defaults("model"), ...call.perModel?.[i] })),
    rng: (i) => seededRng(call.seed ?? 0, tensor, i),
  });
  return Array.from(result);
}
