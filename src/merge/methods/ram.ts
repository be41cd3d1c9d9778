import { defineMethod, num } from "./types.ts";

/**
 * RAM (Reinforced Agent Merging) on task vectors τᵢ = Mᵢ − B: an entry is active where |τᵢ| > epsilon
 * (strictly). Per position: active in one model → that τ; in several → the mean of the active τ; in none → B
 * (so changes of at most epsilon are dropped, not averaged in). `epsilon` is global; the base is required.
 */
export const ram = defineMethod({
  name: "ram",
  title: "Reinforced Agent Merging",
  url: "https://arxiv.org/abs/2601.13572",
  base: "required",
  shapes: "common",
  params: { epsilon: { scope: "global", type: "number", default: 1e-5 } },
  checkInputs: ({ base }) => (!base ? "ram needs a base model" : undefined),
  merge({ base, models, global }) {
    return mergeRam(base!, models, num(global, "epsilon"), models.map(() => 1));
  },
});

/**
 * B + (unique entries of model i)·λᵢ + (the mean of the active entries where several models are active),
 * written into `base`. Task vectors are taken in float32 (as mergekit subtracts tensors) before the test
 * against epsilon.
 */
export function mergeRam(base: Float32Array, models: readonly Float32Array[], epsilon: number, lambdas: readonly number[]): Float32Array {
  const count = models.length;
  for (let j = 0; j < base.length; j++) {
    const b = base[j]!;
    let active = 0;
    let sum = 0;
    let unique = 0;
    for (let i = 0; i < count; i++) {
      const t = Math.fround(models[i]![j]! - b);
      if (Math.abs(t) > epsilon) {
        active++;
        sum += t;
        unique = t * lambdas[i]!;
      }
    }
    if (active === 1) base[j] = b + unique;
    else if (active > 1) base[j] = b + sum / active;
  }
  return base;
}

/**
 * Per model: how many of its active entries are shared with another model, and how many are its alone.
 */
export function ramCounts(base: Float32Array, models: readonly Float32Array[], epsilon: number): { shared: number[]; unique: number[] } {
  const count = models.length;
  const shared = new Array<number>(count).fill(0);
  const unique = new Array<number>(count).fill(0);
  const isActive = new Uint8Array(count);
  for (let j = 0; j < base.length; j++) {
    const b = base[j]!;
    let active = 0;
    for (let i = 0; i < count; i++) {
      isActive[i] = Math.abs(Math.fround(models[i]![j]! - b)) > epsilon ? 1 : 0;
      active += isActive[i]!;
    }
    if (active === 0) continue;
    const tally = active === 1 ? unique : shared;
    for (let i = 0; i < count; i++) if (isActive[i]) tally[i]!++;
  }
  return { shared, unique };
}
