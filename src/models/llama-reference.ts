import { InputError } from "../errors.ts";
import { Checkpoint } from "../merge/safetensors/checkpoint.ts";
import { decodeToFloat32, type FloatDtype } from "../merge/safetensors/dtype.ts";

/**
 * A plain float64 forward pass of LLaMA-family decoders (llama, mistral, qwen2) straight from safetensors: slow,
 * written for clarity, used to check exported ONNX graphs independently. No cache: every call runs the whole
 * sequence with a causal mask.
 */
export interface LlamaConfig {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsEps: number;
  ropeTheta: number;
  tiedEmbeddings: boolean;
}

export const SUPPORTED_MODEL_TYPES = ["llama", "mistral", "qwen2"] as const;

export function parseLlamaConfig(config: Record<string, unknown>, where: string): LlamaConfig {
  const type = config.model_type;
  if (!SUPPORTED_MODEL_TYPES.includes(type as (typeof SUPPORTED_MODEL_TYPES)[number])) {
    throw new InputError(`${where}: model_type ${JSON.stringify(type)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  }
  if (config.rope_scaling !== undefined && config.rope_scaling !== null) throw new InputError(`${where}: rope_scaling is not supported`);
  const num = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== "number") throw new InputError(`${where}: ${key} is missing or not a number`);
    return value;
  };
  const hidden = num("hidden_size");
  const heads = num("num_attention_heads");
  return {
    vocab: num("vocab_size"),
    hidden,
    intermediate: num("intermediate_size"),
    layers: num("num_hidden_layers"),
    heads,
    kvHeads: num("num_key_value_heads", heads),
    headDim: num("head_dim", hidden / heads),
    rmsEps: num("rms_norm_eps", 1e-6),
    ropeTheta: num("rope_theta", 10000),
    tiedEmbeddings: config.tie_word_embeddings === true,
  };
}

export type Weights = (name: string) => Float64Array | undefined;

/** Loads every tensor of a checkpoint folder as float64. */
export async function loadWeights(dir: string): Promise<Map<string, Float64Array>> {
  const checkpoint = await Checkpoint.open(dir);
  const weights = new Map<string, Float64Array>();
  try {
    for (const [name, entry] of checkpoint.tensors) {
      const bytes = new Uint8Array(entry.byteLength);
      await checkpoint.readInto(entry, bytes);
      weights.set(name, Float64Array.from(decodeToFloat32(bytes, entry.dtype as FloatDtype)));
    }
  } finally {
    await checkpoint.close();
  }
  return weights;
}

/** Logits [sequence × vocab] for every position of `ids`. */
export function llamaLogits(config: LlamaConfig, weights: Weights, ids: readonly number[]): Float64Array[] {
  const need = (name: string): Float64Array => {
    const w = weights(name);
    if (!w) throw new InputError(`tensor ${name} is missing`);
    return w;
  };
  const { hidden, layers, heads, kvHeads, headDim, rmsEps } = config;
  const embed = need("model.embed_tokens.weight");
  let states = ids.map((id) => embed.slice(id * hidden, (id + 1) * hidden));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    const normed = states.map((x) => rmsNorm(x, need(`${p}input_layernorm.weight`), rmsEps));
    const q = normed.map((x, pos) => rope(linear(x, need(`${p}self_attn.q_proj.weight`), weights(`${p}self_attn.q_proj.bias`)), heads, headDim, pos, config.ropeTheta));
    const k = normed.map((x, pos) => rope(linear(x, need(`${p}self_attn.k_proj.weight`), weights(`${p}self_attn.k_proj.bias`)), kvHeads, headDim, pos, config.ropeTheta));
    const v = normed.map((x) => linear(x, need(`${p}self_attn.v_proj.weight`), weights(`${p}self_attn.v_proj.bias`)));
    const attended = q.map((_, t) => causalAttention(q, k, v, t, heads, kvHeads, headDim));
    states = states.map((x, t) => add(x, linear(attended[t]!, need(`${p}self_attn.o_proj.weight`))));
    states = states.map((x) => {
      const n = rmsNorm(x, need(`${p}post_attention_layernorm.weight`), rmsEps);
      const gate = linear(n, need(`${p}mlp.gate_proj.weight`));
      const up = linear(n, need(`${p}mlp.up_proj.weight`));
      return add(x, linear(gate.map((g, i) => silu(g) * up[i]!), need(`${p}mlp.down_proj.weight`)));
    });
  }
  const head = (config.tiedEmbeddings ? undefined : weights("lm_head.weight")) ?? embed; // tied, or no head stored
  return states.map((x) => linear(rmsNorm(x, need("model.norm.weight"), rmsEps), head));
}

/** Greedy decoding with the full forward pass at every step. */
export function llamaGreedy(config: LlamaConfig, weights: Weights, prompt: readonly number[], maxNew: number, eos: readonly number[]): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < maxNew; i++) {
    const logits = llamaLogits(config, weights, ids);
    const next = argmax(logits[logits.length - 1]!);
    out.push(next);
    ids.push(next);
    if (eos.includes(next)) break;
  }
  return out;
}

/** y = W·x (+ b) for W stored row-major [out, in], as nn.Linear. */
function linear(x: Float64Array, w: Float64Array, bias?: Float64Array): Float64Array {
  const inDim = x.length;
  const outDim = w.length / inDim;
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < inDim; i++) s += w[o * inDim + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  const meanSquare = x.reduce((s, v) => s + v * v, 0) / x.length;
  const scale = 1 / Math.sqrt(meanSquare + eps);
  return x.map((v, i) => v * scale * w[i]!);
}

/** Rotary embedding, HF "rotate_half" layout: pairs (i, i + d/2) rotate by position · θ^(−2i/d). */
function rope(x: Float64Array, heads: number, headDim: number, position: number, theta: number): Float64Array {
  const out = x.slice();
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    const o = h * headDim;
    for (let i = 0; i < half; i++) {
      const angle = position * theta ** ((-2 * i) / headDim);
      const [a, b] = [x[o + i]!, x[o + i + half]!];
      out[o + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[o + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

/** Position t attends to positions ≤ t; query head h reads key/value head ⌊h / (heads / kvHeads)⌋ (GQA). */
function causalAttention(q: Float64Array[], k: Float64Array[], v: Float64Array[], t: number, heads: number, kvHeads: number, headDim: number): Float64Array {
  const out = new Float64Array(heads * headDim);
  const group = heads / kvHeads;
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / group);
    const scores = Array.from({ length: t + 1 }, (_, s) => {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += q[t]![h * headDim + d]! * k[s]![kv * headDim + d]!;
      return dot / Math.sqrt(headDim);
    });
    const max = Math.max(...scores);
    const exp = scores.map((s) => Math.exp(s - max));
    const total = exp.reduce((a, b) => a + b, 0);
    for (let s = 0; s <= t; s++) {
      const p = exp[s]! / total;
      for (let d = 0; d < headDim; d++) out[h * headDim + d] = out[h * headDim + d]! + p * v[s]![kv * headDim + d]!;
    }
  }
  return out;
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]!);

export function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
