import type { ParameterValue, Parameters } from "./config.ts";
import type { ParamValue } from "./methods/types.ts";

/**
 * mergekit parameter values, evaluated for one tensor at position t ∈ [0, 1] along its slice:
 * - a scalar is itself;
 * - a numeric list is a gradient, interpolated piecewise-linearly at s = t·(n−1);
 * - a list of {filter, value} takes the first entry whose filter is absent, "*", or a substring of the name
 *   (none matching → no value at this level);
 * - a list of other scalars picks element ⌊t·(n−1)⌋.
 */
export function evaluateParameter(value: ParameterValue, tensorName: string, t: number): ParamValue | undefined {
  if (!Array.isArray(value)) return value;
  if (value.every((v): v is number => typeof v === "number")) return gradientAt(value, t);
  const entries = value as readonly unknown[];
  if (entries.every(isFilteredEntry)) {
    const entry = entries.find((e) => e.filter === undefined || e.filter === "*" || tensorName.includes(e.filter));
    return entry === undefined ? undefined : evaluateParameter(entry.value, tensorName, t);
  }
  return (value as ParamValue[])[Math.floor(t * (value.length - 1))];
}

export function gradientAt(values: readonly number[], t: number): number {
  const s = t * (values.length - 1);
  const i0 = Math.floor(s);
  const i1 = Math.min(values.length - 1, i0 + 1);
  const f = s - i0;
  return (1 - f) * values[i0]! + f * values[i1]!;
}

export function isFilteredEntry(v: unknown): v is { filter?: string; value: ParameterValue } {
  return typeof v === "object" && v !== null && "value" in v;
}

/** Position of output layer k in a slice of L layers: k/(L−1), or 1 for a one-layer slice. */
export function layerPosition(k: number, sliceLength: number): number {
  return sliceLength <= 1 ? 1 : k / (sliceLength - 1);
}

export interface ParameterLevels {
  /** models[].parameters or slices[].sources[].parameters: per-model parameters only; filters test the input name. */
  source?: Parameters;
  /** slices[].parameters, then top-level parameters: filters test the output name. */
  slice?: Parameters;
  global?: Parameters;
}

/**
 * First value found by precedence source > slice > global; a level with no (matching) value falls through.
 * Global parameters skip the source level.
 */
export function resolveParameter(
  key: string,
  scope: "global" | "model",
  levels: ParameterLevels,
  names: { input: string; output: string },
  t: number,
): ParamValue | undefined {
  const ordered: [Parameters | undefined, string][] = [
    [scope === "model" ? levels.source : undefined, names.input],
    [levels.slice, names.output],
    [levels.global, names.output],
  ];
  for (const [params, name] of ordered) {
    const raw = params?.[key];
    if (raw === undefined) continue;
    const value = evaluateParameter(raw, name, t);
    if (value !== undefined) return value;
  }
  return undefined;
}
