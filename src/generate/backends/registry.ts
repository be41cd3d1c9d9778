import { createOnnxBackend, type OnnxOptions } from "./onnx.ts";
import { createOpenAIBackend, type OpenAIOptions } from "./openai.ts";
import type { Backend } from "../types.ts";

/** Which backend to build, as plain data (from CLI flags or an experiment file). */
export type BackendSpec = ({ kind: "openai" } & OpenAIOptions) | ({ kind: "onnx" } & OnnxOptions);

const FACTORIES: { [K in BackendSpec["kind"]]: (spec: Extract<BackendSpec, { kind: K }>) => Promise<Backend> } = {
  openai: async (spec) => createOpenAIBackend(spec),
  onnx: (spec) => createOnnxBackend(spec),
};

export function createBackend(spec: BackendSpec): Promise<Backend> {
  return (FACTORIES[spec.kind] as (spec: BackendSpec) => Promise<Backend>)(spec);
}
