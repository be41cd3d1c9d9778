import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const ties = defineTaskArithmeticMethod({
  name: "ties",
  title: "TIES",
  url: "https://arxiv.org/abs/2306.01708",
  sparsify: "magnitude",
  signConsensus: true,
  normalize: true,
  rescale: false,
});
