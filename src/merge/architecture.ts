/**
 * What mergeval needs to know about checkpoint layouts, as data. Like mergekit's inference for unknown
 * architectures, a layer tensor is one whose name has a `.<index>.` segment; everything else is a
 * pre-weight (embeddings, taken from the first slice) or a post-weight (final norm, lm_head: last slice).
 */
export const LAYOUT = {
  /** The first `.<digits>.` segment is the layer index. */
  layerIndex: /^(.*?\.)(\d+)(\..*)$/,
  /** Embedding-like matrices whose rows follow the vocabulary: cropped rather than rejected on a size mismatch. */
  embeddings: /(^|\.)(embed_tokens|lm_head|wte|word_embeddings|embed_in|embed_out)(\.|$)/,
  /** Non-layer weights that come before the layers. */
  preWeights: /(^|\.)(embed_tokens|wte|wpe|word_embeddings|embed_in|embeddings)(\.|$)/,
  /** Output heads that may be tied to (absent in favour of) the input embedding. */
  tiedTo: {
    "lm_head.weight": ["model.embed_tokens.weight", "transformer.wte.weight"],
    "embed_out.weight": ["gpt_neox.embed_in.weight"],
  } as Readonly<Record<string, readonly string[]>>,
  /** config.json keys holding the number of layers, by architecture family. */
  layerCountKeys: ["num_hidden_layers", "n_layer", "num_layers"],
} as const;

export interface LayerName {
  prefix: string;
  index: number;
  suffix: string;
}

export function parseLayerName(name: string): LayerName | undefined {
  const m = LAYOUT.layerIndex.exec(name);
  return m ? { prefix: m[1]!, index: Number(m[2]), suffix: m[3]! } : undefined;
}

export function layerTensorName(layer: LayerName, index: number): string {
  return `${layer.prefix}${index}${layer.suffix}`;
}

export function isEmbedding(name: string): boolean {
  return LAYOUT.embeddings.test(name);
}

export function isPreWeight(name: string): boolean {
  return LAYOUT.preWeights.test(name);
}

export function layerCountFromConfig(config: Record<string, unknown>): { key: string; value: number } | undefined {
  for (const key of LAYOUT.layerCountKeys) {
    const value = config[key];
    if (typeof value === "number" && Number.isInteger(value)) return { key, value };
  }
  return undefined;
}
