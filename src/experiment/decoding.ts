import type { DecodingParams } from "../generate/types.ts";
import type { ExperimentFile } from "./schema.ts";

/** The decoding parameters every model generates with: part of each generation's cache key. */
export function decodingFor(generation: ExperimentFile["generation"]): DecodingParams {
  return {
    maxTokens: generation.max_tokens,
    temperature: generation.temperature,
    ...(generation.top_p !== undefined ? { topP: generation.top_p } : {}),
    ...(generation.seed !== undefined ? { seed: generation.seed } : {}),
  };
}
