import { kernelsOf, kernelsOfAll } from "../kernels/runtime.ts";
import type { Rng } from "../rng.ts";
import { dropByMagnitudeRank, dropRandom, keepMagnitudeBand, keepTopMagnitude, l1Norm, l1RescaleFactor } from "../math/sparsify.ts";
import { bool, defineMethod, num, positive, type MergeMethod, type ParamSpec, type ParamValue } from "./types.ts";

type Sparsifier = "none" | "magnitude" | "random" | "magnitude_outliers" | "della_magprune";

interface FamilyMember {
  name: string;
  title: string;
  url: string;
  sparsify: Sparsifier;
  signConsensus: boolean;
  normalize: boolean;
  rescale: boolean;
}

/**
 * mergekit's "generalized task arithmetic": task vectors δᵢ = Mᵢ − B, sparsified per model, weighted,
 * optionally sign-elected (TIES), summed, normalised, scaled by λ and added back to the base.
 */
export function defineTaskArithmeticMethod(member: FamilyMember): MergeMethod {
  return defineMethod({
    name: member.name,
    title: member.title,
    url: member.url,
    base: "required",
    shapes: "base",
    params: familyParams(member),
    random: member.sparsify === "random" || member.sparsify === "della_magprune",
    checkParams: member.sparsify === "della_magprune" ? checkDellaWindow : undefined,
    merge({ base, models, global, perModel, rng, shape }) {
      if (!base) throw new Error("a base model is required");
      if (models.length === 0) return base;
      const rowLength = shape.length >= 2 ? shape[shape.length - 1]! : base.length;
      const weights = perModel.map((p) => num(p, "weight"));
      const rescale = member.sparsify !== "none" && bool(global, "rescale");
      // Dᵢ = wᵢ·δᵢ in place: weights apply before sign election (mergekit #474). Sparsifying Dᵢ instead of δᵢ
      // changes nothing (magnitude order, random masks and L1 ratios are all scale-invariant).
      models.forEach((m, i) => {
        const originalL1 = weightedTaskVector(m, base, weights[i]!, rescale);
        const keptL1 = sparsifyTaskVector(member.sparsify, m, perModel[i]!, rng(i), rowLength, rescale);
        if (rescale) scaleInPlace(m, l1RescaleFactor(originalL1, keptL1 ?? l1Norm(m)));
      });
      const normalize = bool(global, "normalize");
      const lambda = num(global, "lambda");
      if (member.signConsensus) addSignElected(base, models, weights, normalize, lambda);
      else addSum(base, models, weights, normalize, lambda);
      return base;
    },
  });
}

/**
 * What each member reads. mergekit also declares `density` and `rescale` for task_arithmetic, where they change
 * nothing: left out here, so a recipe setting them gets an "unused" warning.
 */
function familyParams({ sparsify, normalize, rescale }: FamilyMember): Record<string, ParamSpec> {
  return {
    weight: { scope: "model", type: "number", required: true },
    ...(sparsify !== "none" ? { density: { scope: "model", type: "number", default: 1, check: positive("density") } } : {}),
    ...(sparsify === "magnitude_outliers" ? { gamma: { scope: "model", type: "number", default: 0.01 } } : {}),
    ...(sparsify === "della_magprune" ? { epsilon: { scope: "model", type: "number", default: 0.15 } } : {}),
    normalize: { scope: "global", type: "boolean", default: normalize },
    ...(sparsify !== "none" ? { rescale: { scope: "global", type: "boolean", default: rescale } } : {}),
    lambda: { scope: "global", type: "number", default: 1 },
    // Only the dtype of mergekit's internal masks: accepted, with no numeric effect.
    int8_mask: { scope: "global", type: "boolean", default: false },
  } satisfies Record<string, ParamSpec>;
}

/** m ← w·(m − base) in place; returns the L1 norm of the result, computed in the same pass (`withL1`). */
function weightedTaskVector(model: Float32Array, base: Float32Array, weight: number, withL1: boolean): number {
  const kernels = kernelsOfAll(model, base);
  let l1 = kernels ? kernels.exports.weightedDelta(model.byteOffset, base.byteOffset, model.length, withL1 ? 1 : 0, weight) : 0;
  for (let j = kernels ? model.length & ~3 : 0; j < model.length; j++) {
    const d = weight * (model[j]! - base[j]!);
    model[j] = d;
    l1 += Math.abs(d);
  }
  return l1;
}

function scaleInPlace(values: Float32Array, factor: number): void {
  if (factor === 1) return;
  const kernels = kernelsOf(values);
  kernels?.exports.scale(values.byteOffset, values.length, factor);
  for (let j = kernels ? values.length & ~3 : 0; j < values.length; j++) values[j] = values[j]! * factor;
}

/** Sparsifies in place; returns the result's L1 norm when it was counted on the way (`withL1`), else undefined. */
function sparsifyTaskVector(kind: Sparsifier, delta: Float32Array, params: Readonly<Record<string, ParamValue>>, rng: Rng, rowLength: number, withL1: boolean): number | undefined {
  if (kind === "none") return undefined;
  const density = num(params, "density");
  switch (kind) {
    case "random":
      return dropRandom(delta, density, rng, withL1);
    case "magnitude":
      keepTopMagnitude(delta, density);
      return undefined;
    case "magnitude_outliers":
      keepMagnitudeBand(delta, density, num(params, "gamma"));
      return undefined;
    case "della_magprune":
      dropByMagnitudeRank(delta, rowLength, density, num(params, "epsilon"), rng);
      return undefined;
  }
}

/**
 * TIES "sum" consensus on the weighted task vectors Dᵢ: majority sign of Σ Dᵢ (0 counts as +); only agreeing,
 * non-zero entries are summed, then divided by the sum of their models' weights.
 */
function addSignElected(base: Float32Array, deltas: Float32Array[], weights: number[], normalize: boolean, lambda: number): void {
  if (deltas.length === 2) return addSignElectedPair(base, deltas, weights, normalize, lambda);
  const n = deltas.length;
  for (let j = 0; j < base.length; j++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += deltas[i]![j]!;
    const positive = total >= 0;
    let mixed = 0;
    let divisor = 0;
    for (let i = 0; i < n; i++) {
      const d = deltas[i]![j]!;
      if (positive ? d > 0 : d < 0) {
        mixed += d;
        divisor += weights[i]!;
      }
    }
    if (normalize) mixed /= divisor === 0 ? 1 : divisor;
    base[j] = base[j]! + lambda * mixed;
  }
}

/**
 * The two-model case, decided on the float32 bit patterns without branches: random signs make branches
 * mispredict about half the time, which cost 4× the arithmetic. With two entries, the sum's sign is the sign
 * of the larger magnitude, so entry i agrees when both signs match or it is the larger one.
 */
function addSignElectedPair(base: Float32Array, deltas: Float32Array[], weights: number[], normalize: boolean, lambda: number): void {
  const [x0, x1] = deltas as [Float32Array, Float32Array];
  // Without normalize the divisor is always 1: zero weights and a constant 1 give that without a branch.
  const [w0, w1] = normalize ? (weights as [number, number]) : [0, 0];
  const always = normalize ? 0 : 1;
  const kernels = kernelsOfAll(base, x0, x1);
  kernels?.exports.signElectedPair(base.byteOffset, x0.byteOffset, x1.byteOffset, base.length, always, w0, w1, lambda);
  const b0 = new Int32Array(x0.buffer, x0.byteOffset, x0.length);
  const b1 = new Int32Array(x1.buffer, x1.byteOffset, x1.length);
  for (let j = kernels ? base.length & ~3 : 0; j < base.length; j++) {
    const a = b0[j]!;
    const b = b1[j]!;
    const aa = a & 0x7fffffff;
    const bb = b & 0x7fffffff;
    const same = ~(a ^ b) >>> 31; // 1 when the sign bits match
    const equal = ((aa ^ bb) - 1) >>> 31; // 1 when the magnitudes match
    // With equal magnitudes and opposite signs the sum is 0, which counts as +: the positive entry agrees.
    const k0 = (same | ((bb - aa) >>> 31) | (equal & (~a >>> 31))) & (-aa >>> 31); // … and non-zero
    const k1 = (same | ((aa - bb) >>> 31) | (equal & (~b >>> 31))) & (-bb >>> 31);
    const mixed = k0 * x0[j]! + k1 * x1[j]!;
    let divisor = k0 * w0 + k1 * w1 + (always | ((k0 | k1) ^ 1)); // nothing agrees (both zero): 1
    if (divisor === 0) divisor = 1; // agreeing weights that cancel: rare, so this branch predicts well
    base[j] = base[j]! + (lambda * mixed) / divisor;
  }
}

function addSum(base: Float32Array, deltas: Float32Array[], weights: number[], normalize: boolean, lambda: number): void {
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const factor = lambda / (normalize ? (Math.abs(weightSum) < 1e-8 ? 1 : weightSum) : 1);
  if (deltas.length === 2) {
    const [x0, x1] = deltas as [Float32Array, Float32Array];
    const kernels = kernelsOfAll(base, x0, x1);
    kernels?.exports.sumPair(base.byteOffset, x0.byteOffset, x1.byteOffset, base.length, factor);
    for (let j = kernels ? base.length & ~3 : 0; j < base.length; j++) base[j] = base[j]! + factor * (x0[j]! + x1[j]!);
    return;
  }
  const n = deltas.length;
  for (let j = 0; j < base.length; j++) {
    let mixed = 0;
    for (let i = 0; i < n; i++) mixed += deltas[i]![j]!;
    base[j] = base[j]! + factor * mixed;
  }
}

function checkDellaWindow(_global: Readonly<Record<string, ParamValue>>, perModel: readonly Readonly<Record<string, ParamValue>>[]): string | undefined {
  for (const params of perModel) {
    const density = num(params, "density");
    const epsilon = num(params, "epsilon");
    if (density >= 1) continue;
    if (density - epsilon <= 0 || density + epsilon >= 1) {
      return `della needs density − epsilon > 0 and density + epsilon < 1 (density ${density}, epsilon ${epsilon})`;
    }
  }
  return undefined;
}
