import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const dareTies = defineTaskArithmeticMethod({
  name: "dare_ties",
  title: "DARE TIES",
  url: "https://arxiv.org/abs/2311.03099",
  sparsify: "random",
  signConsensus: true,
  normalize: false,
  rescale: true,
});
