import { bool, defineMethod, num } from "./types.ts";

/**
 * SLERP between exactly two models with t = w₂/(w₁+w₂); with a (third) base, between their task vectors.
 * Vectors are the whole tensor (`nuslerp_flatten`, default), else rows, or columns with `nuslerp_row_wise`
 * (mergekit's code does rows/columns the other way round from its docs; we follow the code).
 */
export const nuslerp = defineMethod({
  name: "nuslerp",
  title: "NuSLERP",
  url: "https://github.com/arcee-ai/mergekit",
  base: "optional",
  shapes: "common",
  params: {
    weight: { scope: "model", type: "number", required: true },
    nuslerp_flatten: { scope: "global", type: "boolean", default: true },
    nuslerp_row_wise: { scope: "global", type: "boolean", default: false },
  },
  checkInputs: ({ models }) =>
    models !== 2 ? `nuslerp needs exactly two models besides the base (got ${models}); the base cannot be one of them` : undefined,
  merge({ base, models, perModel, global, shape }) {
    const [w1, w2] = perModel.map((p) => num(p, "weight")) as [number, number];
    const t = Math.abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2);
    const [x0, x1] = models as [Float32Array, Float32Array];
    if (base) for (let j = 0; j < x0.length; j++) (x0[j] = x0[j]! - base[j]!), (x1[j] = x1[j]! - base[j]!);
    const cols = shape.length >= 2 ? shape[shape.length - 1]! : x0.length;
    const rows = x0.length / cols;
    if (bool(global, "nuslerp_flatten") || shape.length < 2) slerpStrided(x0, x1, t, 0, x0.length, 1);
    else if (bool(global, "nuslerp_row_wise")) for (let c = 0; c < cols; c++) slerpStrided(x0, x1, t, c, rows, cols);
    else for (let r = 0; r < rows; r++) slerpStrided(x0, x1, t, r * cols, cols, 1);
    if (base) for (let j = 0; j < x0.length; j++) x0[j] = x0[j]! + base[j]!;
    return x0;
  },
});

/** Slerps the vectors at start, start+stride, … (count entries) of x0 and x1 into x0. */
function slerpStrided(x0: Float32Array, x1: Float32Array, t: number, start: number, count: number, stride: number): void {
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let k = 0, j = start; k < count; k++, j += stride) {
    aa += x0[j]! * x0[j]!;
    bb += x1[j]! * x1[j]!;
    ab += x0[j]! * x1[j]!;
  }
  const dot = Math.min(1, Math.max(-1, ab / Math.max(Math.sqrt(aa), 1e-7) / Math.max(Math.sqrt(bb), 1e-7)));
  const theta = Math.acos(dot);
  const sinTheta = Math.sin(theta);
  const [s0, s1] = Math.abs(sinTheta) < 1e-8 ? [1 - t, t] : [Math.sin((1 - t) * theta) / sinTheta, Math.sin(t * theta) / sinTheta];
  for (let k = 0, j = start; k < count; k++, j += stride) x0[j] = s0 * x0[j]! + s1 * x1[j]!;
}
