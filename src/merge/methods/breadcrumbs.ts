import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const breadcrumbs = defineTaskArithmeticMethod({
  name: "breadcrumbs",
  title: "Model Breadcrumbs",
  url: "https://arxiv.org/abs/2312.06795",
  sparsify: "magnitude_outliers",
  signConsensus: false,
  normalize: false,
  rescale: false,
});
