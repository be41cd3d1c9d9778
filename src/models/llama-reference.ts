import { InputError } from "../errors.ts";
import { Checkpoint } from "../merge/safetensors/checkpoint.ts";
import { decodeToFloat32, type FloatDtype } from "../merge/safetensors/dtype.ts";
import type { HiddenAct, LlamaConfig } from "./llama-config.ts";

/**
 * A plain float64 forward pass of LLaMA-family decoders (llama, mistral, qwen2) straight from safetensors: slow,
 * written for clarity, used to check exported ONNX graphs independently (it shares only the config parser with
 * the exporter). No cache: every call runs the whole sequence with a causal (or sliding-window) mask.
 */
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
  const { hidden, layers, heads, kvHeads, headDim, rmsEps, bias } = config;
  const act = ACTIVATIONS[config.hiddenAct];
  const proj = (x: Float64Array, name: string, withBias: boolean) => linear(x, need(`${name}.weight`), withBias ? need(`${name}.bias`) : undefined);
  const embed = need("model.embed_tokens.weight");
  let states = ids.map((id) => embed.slice(id * hidden, (id + 1) * hidden));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    const normed = states.map((x) => rmsNorm(x, need(`${p}input_layernorm.weight`), rmsEps));
    const q = normed.map((x, pos) => rope(proj(x, `${p}self_attn.q_proj`, bias.qkv), heads, headDim, pos, config.ropeTheta));
    const k = normed.map((x, pos) => rope(proj(x, `${p}self_attn.k_proj`, bias.qkv), kvHeads, headDim, pos, config.ropeTheta));
    const v = normed.map((x) => proj(x, `${p}self_attn.v_proj`, bias.qkv));
    const attended = q.map((_, t) => attention(q, k, v, t, config.slidingWindow[l] ?? null, heads, kvHeads, headDim));
    states = states.map((x, t) => add(x, proj(attended[t]!, `${p}self_attn.o_proj`, bias.o)));
    states = states.map((x) => {
      const n = rmsNorm(x, need(`${p}post_attention_layernorm.weight`), rmsEps);
      const gate = proj(n, `${p}mlp.gate_proj`, bias.mlp);
      const up = proj(n, `${p}mlp.up_proj`, bias.mlp);
      return add(x, proj(gate.map((g, i) => act(g) * up[i]!), `${p}mlp.down_proj`, bias.mlp));
    });
  }
  const head = config.tiedEmbeddings ? embed : need("lm_head.weight");
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

/**
 * Position t attends to positions s ≤ t, and with a sliding window w only to t - w < s ≤ t (the w most recent,
 * itself included); query head h reads key/value head ⌊h / (heads / kvHeads)⌋ (GQA).
 */
function attention(q: Float64Array[], k: Float64Array[], v: Float64Array[], t: number, window: number | null, heads: number, kvHeads: number, headDim: number): Float64Array {
  const out = new Float64Array(heads * headDim);
  const group = heads / kvHeads;
  const first = window === null ? 0 : Math.max(0, t - window + 1);
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / group);
    const scores: number[] = [];
    for (let s = first; s <= t; s++) {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += q[t]![h * headDim + d]! * k[s]![kv * headDim + d]!;
      scores.push(dot / Math.sqrt(headDim));
    }
    const max = Math.max(...scores);
    const exp = scores.map((s) => Math.exp(s - max));
    const total = exp.reduce((a, b) => a + b, 0);
    exp.forEach((e, i) => {
      const p = e / total;
      for (let d = 0; d < headDim; d++) out[h * headDim + d] = out[h * headDim + d]! + p * v[first + i]![kv * headDim + d]!;
    });
  }
  return out;
}

/** transformers' ACT2FN, in float64. */
const ACTIVATIONS: Record<HiddenAct, (x: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), // nn.GELU(), exact
  gelu_pytorch_tanh: geluTanh, // nn.GELU(approximate="tanh")
  gelu_new: geluTanh, // NewGELUActivation: the same formula
};

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/**
 * The error function to about 1e-15 (checked against libm), from the series erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)),
 * whose terms are all of x's sign (no cancellation, unlike the Taylor series) and which converges for every x.
 * |x| ≥ 6 gives ±1: 1 − erf(6) ≈ 2e-17.
 */
export function erf(x: number): number {
  if (Math.abs(x) >= 6) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]!);

export function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
