import type { Rng } from "../rng.ts";
import { dropByMagnitudeRank, dropRandom, keepMagnitudeBand, keepTopMagnitude, l1Norm, rescaleL1 } from "../math/sparsify.ts";
import { bool, defineMethod, num, positive, type MergeMethod, type ParamValue } from "./types.ts";

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
    params: {
      weight: { scope: "model", type: "number", required: true },
      density: { scope: "model", type: "number", default: 1, check: positive("density") },
      gamma: { scope: "model", type: "number", default: 0.01 },
      epsilon: { scope: "model", type: "number", default: 0.15 },
      normalize: { scope: "global", type: "boolean", default: member.normalize },
      rescale: { scope: "global", type: "boolean", default: member.rescale },
      lambda: { scope: "global", type: "number", default: 1 },
      int8_mask: { scope: "global", type: "boolean", default: false },
    },
    checkParams: member.sparsify === "della_magprune" ? checkDellaWindow : undefined,
    merge({ base, models, global, perModel, rng, shape }) {
      if (!base) throw new Error("a base model is required");
      if (models.length === 0) return base;
      const rowLength = shape.length >= 2 ? shape[shape.length - 1]! : base.length;
      const weights = perModel.map((p) => num(p, "weight"));
      models.forEach((m, i) => {
        for (let j = 0; j < m.length; j++) m[j] = m[j]! - base[j]!; // m becomes the task vector δᵢ
        const before = bool(global, "rescale") ? l1Norm(m) : 0;
        sparsifyTaskVector(member.sparsify, m, perModel[i]!, rng(i), rowLength);
        if (bool(global, "rescale") && member.sparsify !== "none") rescaleL1(m, before);
        const w = weights[i]!;
        for (let j = 0; j < m.length; j++) m[j] = m[j]! * w; // weighted before sign election (mergekit #474)
      });
      const normalize = bool(global, "normalize");
      const lambda = num(global, "lambda");
      if (member.signConsensus) addSignElected(base, models, weights, normalize, lambda);
      else addSum(base, models, weights, normalize, lambda);
      return base;
    },
  });
}

function sparsifyTaskVector(kind: Sparsifier, delta: Float32Array, params: Readonly<Record<string, ParamValue>>, rng: Rng, rowLength: number): void {
  const density = num(params, "density");
  switch (kind) {
    case "none":
      return;
    case "magnitude":
      return keepTopMagnitude(delta, density);
    case "random":
      return dropRandom(delta, density, rng);
    case "magnitude_outliers":
      return keepMagnitudeBand(delta, density, num(params, "gamma"));
    case "della_magprune":
      return dropByMagnitudeRank(delta, rowLength, density, num(params, "epsilon"), rng);
  }
}

/** TIES "sum" consensus: majority sign of Σ Dᵢ (0 counts as +); only agreeing, non-zero entries are summed. */
function addSignElected(base: Float32Array, deltas: Float32Array[], weights: number[], normalize: boolean, lambda: number): void {
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

function addSum(base: Float32Array, deltas: Float32Array[], weights: number[], normalize: boolean, lambda: number): void {
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const scale = lambda / (normalize ? (Math.abs(weightSum) < 1e-8 ? 1 : weightSum) : 1);
  const n = deltas.length;
  for (let j = 0; j < base.length; j++) {
    let mixed = 0;
    for (let i = 0; i < n; i++) mixed += deltas[i]![j]!;
    base[j] = base[j]! + scale * mixed;
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
