import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const dareLinear = defineTaskArithmeticMethod({
  name: "dare_linear",
  title: "DARE",
  url: "https://arxiv.org/abs/2311.03099",
  sparsify: "random",
  signConsensus: false,
  normalize: false,
  rescale: true,
});
