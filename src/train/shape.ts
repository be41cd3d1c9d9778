import { InputError } from "../errors.ts";
import type { LlamaConfig } from "../models/llama-config.ts";

/**
 * The architecture the trainer implements: a LLaMA decoder with RMSNorm, rotary embeddings (HF rotate_half),
 * grouped-query causal attention, a SwiGLU MLP, no biases and an untied lm_head.
 */
export interface ModelShape {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsEps: number;
  ropeTheta: number;
}

/** Each tensor's Hugging Face name and shape (nn.Linear weights are [out, in]), in checkpoint order. */
export function tensorShapes(shape: ModelShape): [string, number[]][] {
  const { vocab, hidden, intermediate, heads, kvHeads, headDim } = shape;
  const list: [string, number[]][] = [["model.embed_tokens.weight", [vocab, hidden]]];
  for (let l = 0; l < shape.layers; l++) {
    const p = `model.layers.${l}.`;
    list.push(
      [`${p}input_layernorm.weight`, [hidden]],
      [`${p}self_attn.q_proj.weight`, [heads * headDim, hidden]],
      [`${p}self_attn.k_proj.weight`, [kvHeads * headDim, hidden]],
      [`${p}self_attn.v_proj.weight`, [kvHeads * headDim, hidden]],
      [`${p}self_attn.o_proj.weight`, [hidden, heads * headDim]],
      [`${p}post_attention_layernorm.weight`, [hidden]],
      [`${p}mlp.gate_proj.weight`, [intermediate, hidden]],
      [`${p}mlp.up_proj.weight`, [intermediate, hidden]],
      [`${p}mlp.down_proj.weight`, [hidden, intermediate]],
    );
  }
  list.push(["model.norm.weight", [hidden]], ["lm_head.weight", [vocab, hidden]]);
  return list;
}

export function checkShape(shape: ModelShape): void {
  const sizes = ["vocab", "hidden", "intermediate", "layers", "heads", "kvHeads", "headDim"] as const;
  for (const key of sizes) if (!Number.isInteger(shape[key]) || shape[key] < 1) throw new InputError(`model shape: ${key} ${shape[key]} is not a positive integer`);
  if (shape.heads % shape.kvHeads !== 0) throw new InputError(`model shape: kvHeads ${shape.kvHeads} does not divide heads ${shape.heads}`);
  if (shape.headDim % 2 !== 0) throw new InputError(`model shape: headDim ${shape.headDim} is odd; rotary embeddings rotate pairs`);
  if (!(shape.rmsEps > 0) || !(shape.ropeTheta > 0)) throw new InputError("model shape: rmsEps and ropeTheta must be positive");
}

/** The trainable shape of a parsed config.json; refuses what the trainer does not implement. */
export function shapeFromConfig(config: LlamaConfig, where: string): ModelShape {
  const refuse = (what: string) => {
    throw new InputError(`${where}: ${what}; the trainer implements only silu, no biases, no sliding window and an untied lm_head`);
  };
  if (config.hiddenAct !== "silu") refuse(`hidden_act is ${config.hiddenAct}`);
  if (config.bias.qkv || config.bias.o || config.bias.mlp) refuse("some linear layers have biases");
  if (config.slidingWindow.some((w) => w !== null)) refuse("some layers use a sliding window");
  if (config.tiedEmbeddings) refuse("tie_word_embeddings is true");
  const { vocab, hidden, intermediate, layers, heads, kvHeads, headDim, rmsEps, ropeTheta } = config;
  return { vocab, hidden, intermediate, layers, heads, kvHeads, headDim, rmsEps, ropeTheta };
}

/** A transformers LlamaConfig for `shape`; `extra` keys (bos_token_id, eos_token_id, …) are added or override. */
export function configJson(shape: ModelShape, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: shape.vocab,
    hidden_size: shape.hidden,
    intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    head_dim: shape.headDim,
    hidden_act: "silu",
    max_position_embeddings: 2048,
    rms_norm_eps: shape.rmsEps,
    rope_theta: shape.ropeTheta,
    tie_word_embeddings: false,
    torch_dtype: "bfloat16",
    ...extra,
  };
}
