import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const della = defineTaskArithmeticMethod({
  name: "della",
  title: "DELLA",
  url: "https://arxiv.org/abs/2406.11617",
  sparsify: "della_magprune",
  signConsensus: true,
  normalize: true,
  rescale: true,
});
