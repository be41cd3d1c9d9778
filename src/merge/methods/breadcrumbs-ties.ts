import { defineTaskArithmeticMethod } from "./task-arithmetic-family.ts";

export const breadcrumbsTies = defineTaskArithmeticMethod({
  name: "breadcrumbs_ties",
  title: "Model Breadcrumbs with TIES",
  url: "https://arxiv.org/abs/2312.06795",
  sparsify: "magnitude_outliers",
  signConsensus: true,
  normalize: false,
  rescale: false,
});
