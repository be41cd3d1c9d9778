import { InputError } from "../errors.ts";

/**
 * What a LLaMA-family config.json (llama, mistral, qwen2) means for the forward pass, read the way Hugging Face
 * transformers reads it for that model_type: its defaults when a key is absent, and the keys that model class
 * ignores ignored. Any value that would change the math and is not implemented is refused, naming the field:
 * an export must never compute something other than what the config describes.
 */
export interface LlamaConfig {
  modelType: ModelType;
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsEps: number;
  ropeTheta: number;
  /** The MLP's activation on gate_proj: down(act(gate(x)) · up(x)). */
  hiddenAct: HiddenAct;
  /**
   * Per layer, null for full causal attention, or the sliding window w: as transformers' masking_utils
   * (sliding_window_overlay: kv_idx > q_idx - sliding_window), the query at position i sees keys j with
   * i - w < j ≤ i, that is the w most recent positions, itself included.
   */
  slidingWindow: (number | null)[];
  /** Which linear layers carry a bias: q/k/v, o_proj, and the MLP's three. */
  bias: { qkv: boolean; o: boolean; mlp: boolean };
  tiedEmbeddings: boolean;
}

export const SUPPORTED_MODEL_TYPES = ["llama", "mistral", "qwen2"] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** transformers' ACT2FN names implemented by both the exporter and the reference. */
export const HIDDEN_ACTS = ["silu", "gelu", "gelu_pytorch_tanh", "gelu_new"] as const;
export type HiddenAct = (typeof HIDDEN_ACTS)[number];
/** Other ACT2FN names for the same function: transformers maps "swish" to SiLU. */
const HIDDEN_ACT_ALIASES: Record<string, HiddenAct> = { swish: "silu" };

/** Defaults of the transformers config classes where they differ between the three. */
const DEFAULTS: Record<ModelType, { kvHeads: number | "heads"; slidingWindow: number | null }> = {
  llama: { kvHeads: "heads", slidingWindow: null }, // LlamaConfig has no sliding window
  mistral: { kvHeads: 8, slidingWindow: 4096 },
  qwen2: { kvHeads: 32, slidingWindow: 4096 }, // the window only applies with use_sliding_window: true
};

export function parseLlamaConfig(config: Record<string, unknown>, where: string): LlamaConfig {
  const type = config.model_type;
  if (!SUPPORTED_MODEL_TYPES.includes(type as ModelType)) {
    throw new InputError(`${where}: model_type ${JSON.stringify(type)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  }
  const modelType = type as ModelType;
  const refuse = (key: string, why: string, value: unknown = config[key]): never => {
    throw new InputError(`${where}: ${key} ${value === undefined ? "(absent)" : JSON.stringify(value)} ${why}`);
  };
  const present = (key: string) => config[key] !== undefined && config[key] !== null;
  const num = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value)) throw new InputError(`${where}: ${key} is missing or not a number`);
    return value;
  };
  const size = (key: string, fallback?: number): number => {
    const value = num(key, fallback);
    if (!Number.isInteger(value) || value < 1) refuse(key, "is not a positive integer", value);
    return value;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = config[key] ?? fallback;
    if (typeof value !== "boolean") refuse(key, "is not true or false");
    return value as boolean;
  };

  const hidden = size("hidden_size");
  const heads = size("num_attention_heads");
  const layers = size("num_hidden_layers");
  const defaults = DEFAULTS[modelType];
  const kvHeads = size("num_key_value_heads", config.num_key_value_heads === undefined && defaults.kvHeads !== "heads" ? defaults.kvHeads : heads);
  if (heads % kvHeads !== 0) refuse("num_key_value_heads", `does not divide num_attention_heads ${heads}`, kvHeads);
  if (!present("head_dim") && hidden % heads !== 0) refuse("num_attention_heads", `does not divide hidden_size ${hidden} (and there is no head_dim)`);
  const headDim = size("head_dim", hidden / heads);
  if (headDim % 2 !== 0) refuse("head_dim", "is odd; rotary embeddings rotate pairs of dimensions");

  const actName = config.hidden_act ?? "silu";
  const hiddenAct = typeof actName === "string" ? (HIDDEN_ACT_ALIASES[actName] ?? actName) : actName;
  if (!HIDDEN_ACTS.includes(hiddenAct as HiddenAct)) {
    refuse("hidden_act", `is not supported (supported: ${[...HIDDEN_ACTS, ...Object.keys(HIDDEN_ACT_ALIASES)].join(", ")})`);
  }

  const maxPositions = present("max_position_embeddings") ? size("max_position_embeddings") : Infinity;
  const window = (): number | null => {
    const value = "sliding_window" in config ? config.sliding_window : defaults.slidingWindow;
    if (value === null || value === undefined) return null;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) return refuse("sliding_window", "is not a positive integer or null");
    return value >= maxPositions ? null : value; // a window as long as any sequence is full attention
  };
  const slidingWindow = ((): (number | null)[] => {
    if (modelType === "llama") return new Array<null>(layers).fill(null); // transformers' Llama ignores sliding_window
    if (modelType === "mistral") return new Array<number | null>(layers).fill(window()); // every layer; layer_types is ignored
    if (!flag("use_sliding_window", false)) return new Array<null>(layers).fill(null);
    const w = window();
    const types = config.layer_types;
    if (types === undefined || types === null) {
      const fullLayers = size("max_window_layers", 28); // Qwen2Config: layers from max_window_layers on slide
      return Array.from({ length: layers }, (_, i) => (i >= fullLayers ? w : null));
    }
    if (!Array.isArray(types) || types.length !== layers || !types.every((t) => t === "full_attention" || t === "sliding_attention")) {
      return refuse("layer_types", `is not a list of ${layers} "full_attention" / "sliding_attention"`);
    }
    return types.map((t) => (t === "sliding_attention" ? w : null));
  })();

  const ropeTheta = parseRope(config, where);

  // Biases as each transformers class builds its linear layers.
  const attentionBias = modelType === "llama" && flag("attention_bias", false);
  const bias = {
    qkv: modelType === "qwen2" || attentionBias,
    o: attentionBias,
    mlp: modelType === "llama" && flag("mlp_bias", false),
  };

  return {
    modelType,
    vocab: size("vocab_size"),
    hidden,
    intermediate: size("intermediate_size"),
    layers,
    heads,
    kvHeads,
    headDim,
    rmsEps: num("rms_norm_eps", 1e-6),
    ropeTheta,
    hiddenAct: hiddenAct as HiddenAct,
    slidingWindow,
    bias,
    tiedEmbeddings: flag("tie_word_embeddings", false),
  };
}

/**
 * The rotary base. transformers 4 reads top-level rope_theta and rope_scaling; transformers 5 writes
 * rope_parameters { rope_type, rope_theta, ... } (rope_scaling an alias of it). Only the default rotary type
 * is implemented, with a full rotary dimension.
 */
function parseRope(config: Record<string, unknown>, where: string): number {
  const thetas: number[] = [];
  if (config.rope_theta !== undefined && config.rope_theta !== null) thetas.push(positive(config.rope_theta, "rope_theta", where));
  const rotaryFactors: [string, unknown][] = [["partial_rotary_factor", config.partial_rotary_factor]];
  for (const key of ["rope_scaling", "rope_parameters"]) {
    const value = config[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "object" || Array.isArray(value)) throw new InputError(`${where}: ${key} is not an object`);
    const params = value as Record<string, unknown>;
    const ropeType = params.rope_type ?? params.type ?? "default";
    if (ropeType !== "default") throw new InputError(`${where}: ${key} type ${JSON.stringify(ropeType)} is not supported (only default rotary embeddings)`);
    if (params.rope_theta !== undefined && params.rope_theta !== null) thetas.push(positive(params.rope_theta, `${key}.rope_theta`, where));
    rotaryFactors.push([`${key}.partial_rotary_factor`, params.partial_rotary_factor]);
  }
  for (const [key, factor] of rotaryFactors) {
    if (factor !== undefined && factor !== null && factor !== 1) throw new InputError(`${where}: ${key} ${JSON.stringify(factor)} is not supported (only 1: rotary over the whole head)`);
  }
  if (thetas.some((t) => t !== thetas[0])) throw new InputError(`${where}: rope_theta is given twice with different values (${thetas.join(" and ")})`);
  return thetas[0] ?? 10000;
}

function positive(value: unknown, key: string, where: string): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) throw new InputError(`${where}: ${key} ${JSON.stringify(value)} is not a positive number`);
  return value;
}

/** A tensor the forward pass reads, its shape as nn.Linear / nn.Embedding store it, and what requires it. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** Why the config needs it, for the error when the checkpoint lacks it. */
  requiredBy?: string;
}

/** Every tensor the forward pass of `config` reads, in graph order. */
export function expectedTensors(config: LlamaConfig): ExpectedTensor[] {
  const { vocab, hidden, intermediate, heads, kvHeads, headDim, bias } = config;
  const qkvBiasBy = config.modelType === "qwen2" ? "model_type qwen2 has q/k/v biases" : "attention_bias is true";
  const list: ExpectedTensor[] = [{ name: "model.embed_tokens.weight", shape: [vocab, hidden] }];
  const linear = (name: string, out: number, inp: number, withBias: boolean, requiredBy?: string) => {
    list.push({ name: `${name}.weight`, shape: [out, inp] });
    if (withBias) list.push({ name: `${name}.bias`, shape: [out], requiredBy });
  };
  for (let l = 0; l < config.layers; l++) {
    const p = `model.layers.${l}.`;
    list.push({ name: `${p}input_layernorm.weight`, shape: [hidden] });
    linear(`${p}self_attn.q_proj`, heads * headDim, hidden, bias.qkv, qkvBiasBy);
    linear(`${p}self_attn.k_proj`, kvHeads * headDim, hidden, bias.qkv, qkvBiasBy);
    linear(`${p}self_attn.v_proj`, kvHeads * headDim, hidden, bias.qkv, qkvBiasBy);
    linear(`${p}self_attn.o_proj`, hidden, heads * headDim, bias.o, "attention_bias is true");
    list.push({ name: `${p}post_attention_layernorm.weight`, shape: [hidden] });
    linear(`${p}mlp.gate_proj`, intermediate, hidden, bias.mlp, "mlp_bias is true");
    linear(`${p}mlp.up_proj`, intermediate, hidden, bias.mlp, "mlp_bias is true");
    linear(`${p}mlp.down_proj`, hidden, intermediate, bias.mlp, "mlp_bias is true");
  }
  list.push({ name: "model.norm.weight", shape: [hidden] });
  if (!config.tiedEmbeddings) list.push({ name: "lm_head.weight", shape: [vocab, hidden], requiredBy: "tie_word_embeddings is false (its default)" });
  return list;
}
