import { defineMethod, num } from "./types.ts";

/** Copies its single input, optionally multiplied by `scale` (frankenmerges stack layers with slices). */
export const passthrough = defineMethod({
  name: "passthrough",
  title: "Passthrough",
  url: "https://github.com/arcee-ai/mergekit",
  base: "input",
  shapes: "common",
  params: { scale: { scope: "model", type: "number", default: 1 } },
  checkInputs: ({ models }) => (models !== 1 ? `passthrough takes exactly one model per slice (got ${models})` : undefined),
  merge({ models, perModel }) {
    const out = models[0]!;
    const scale = num(perModel[0]!, "scale");
    if (scale !== 1) for (let j = 0; j < out.length; j++) out[j] = out[j]! * scale;
    return out;
  },
});
