import type { Rng } from "../rng.ts";

export type ParamValue = number | boolean | string;

export interface ParamSpec {
  /** "global": one value per tensor (may vary by tensor, slice or gradient); "model": one per input model. */
  scope: "global" | "model";
  type: "number" | "boolean";
  default?: ParamValue;
  required?: boolean;
  /** Returns a reason when a resolved value is invalid, e.g. density ≤ 0. */
  check?: (value: number) => string | undefined;
}

/**
 * How the base model takes part:
 * - "required" / "optional": passed separately as `base`, never among `models`;
 * - "input": just another input with its own weight (linear); without a weight it is left out.
 */
export type BaseRole = "required" | "optional" | "input";

/**
 * When embedding matrices (embed_tokens, lm_head) differ in shape, as with extended vocabularies:
 * - "common": cut every input to the common top-left sub-matrix (linear, slerp…);
 * - "base": cut each input to the base's shape; a non-embedding mismatch drops that model (task arithmetic family).
 */
export type ShapePolicy = "common" | "base";

export interface MergeInput {
  /** Output tensor name, for messages and per-tensor randomness. */
  tensor: string;
  shape: readonly number[];
  base: Float32Array | undefined;
  /** Non-base inputs in config order (for "input" base role, the base is among them). */
  models: Float32Array[];
  global: Readonly<Record<string, ParamValue>>;
  perModel: readonly Readonly<Record<string, ParamValue>>[];
  /** A random stream derived from (seed, tensor name, model position): order- and thread-independent. */
  rng: (modelIndex: number) => Rng;
}

export interface MergeMethod {
  name: string;
  /** Human name and link for the model card. */
  title: string;
  url: string;
  base: BaseRole;
  shapes: ShapePolicy;
  params: Readonly<Record<string, ParamSpec>>;
  /** It draws random masks: its result depends on the seed (so a study can repeat it over seeds). */
  random?: boolean;
  /** Checks the number of inputs once per tensor; returns a reason when the merge cannot run. */
  checkInputs?: (count: { models: number; base: boolean }) => string | undefined;
  /** Checks resolved parameters that constrain each other (checked for every tensor before any work). */
  checkParams?: (global: Readonly<Record<string, ParamValue>>, perModel: readonly Readonly<Record<string, ParamValue>>[]) => string | undefined;
  /**
   * The formula. Inputs are owned by the method: it may overwrite them and return one of them,
   * which keeps peak memory at the inputs' size.
   */
  merge: (input: MergeInput) => Float32Array;
}

export function defineMethod(method: MergeMethod): MergeMethod {
  return method;
}

export function num(params: Readonly<Record<string, ParamValue>>, key: string): number {
  const value = params[key];
  if (typeof value !== "number") throw new Error(`parameter ${key} is not a number`);
  return value;
}

export function bool(params: Readonly<Record<string, ParamValue>>, key: string): boolean {
  const value = params[key];
  if (typeof value !== "boolean") throw new Error(`parameter ${key} is not a boolean`);
  return value;
}

export const positive = (name: string) => (v: number) => (v > 0 ? undefined : `${name} must be > 0 (got ${v})`);
