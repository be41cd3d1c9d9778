import { combinePairInPlace } from "../math/combine.ts";
import { defineMethod, num } from "./types.ts";

/** Above this |cos| the two tensors are treated as colinear and lerped (mergekit's DOT_THRESHOLD). */
export const SLERP_DOT_THRESHOLD = 0.9995;
const EPS = 1e-8;

/**
 * Spherical interpolation from the base (t = 0) to the other model (t = 1), one angle per flattened tensor.
 * The coefficients apply to the raw tensors: norms are not interpolated separately.
 */
export const slerp = defineMethod({
  name: "slerp",
  title: "SLERP",
  url: "https://en.wikipedia.org/wiki/Slerp",
  base: "required",
  shapes: "common",
  params: { t: { scope: "global", type: "number", required: true } },
  checkInputs: ({ models, base }) =>
    models !== 1 || !base ? `slerp needs exactly two models, the base and one other (got ${models + (base ? 1 : 0)})` : undefined,
  merge({ base, models, global }) {
    const a = base!;
    const b = models[0]!;
    const t = num(global, "t");
    const [s0, s1] = slerpCoefficients(a, b, t);
    combinePairInPlace(a, b, s0, s1);
    return a;
  },
});

/** The (s0, s1) with result = s0·a + s1·b: slerp weights, or lerp weights when a and b are (anti)parallel. */
export function slerpCoefficients(a: Float32Array, b: Float32Array, t: number): [number, number] {
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j]!;
    const y = b[j]!;
    aa += x * x;
    bb += y * y;
    ab += x * y;
  }
  const na = Math.sqrt(aa);
  const nb = Math.sqrt(bb);
  const dot = ab / (na > EPS ? na : 1) / (nb > EPS ? nb : 1);
  if (Math.abs(dot) > SLERP_DOT_THRESHOLD) return [1 - t, t];
  const theta = Math.acos(dot);
  const sinTheta = Math.sin(theta);
  return [Math.sin((1 - t) * theta) / sinTheta, Math.sin(t * theta) / sinTheta];
}
