import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const dellaLinear = defineTaskArithmeticMethod({
  name: "della_linear",
  title: "DELLA",
  url: "https://arxiv.org/abs/2406.11617",
  sparsify: "della_magprune",
  signConsensus: false,
  normalize: false,
  rescale: true,
});
