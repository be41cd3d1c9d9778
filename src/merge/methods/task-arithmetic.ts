import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const taskArithmetic = defineTaskArithmeticMethod({
  name: "task_arithmetic",
  title: "Task Arithmetic",
  url: "https://arxiv.org/abs/2212.04089",
  sparsify: "none",
  signConsensus: false,
  normalize: false,
  rescale: false,
});
