import type { HiddenAct, LlamaConfig } from "./llama-config.ts";
import type { OnnxGraph, OnnxNode, OnnxTensor, OnnxValueInfo } from "./onnx-proto.ts";

/**
 * The ONNX graph of a LLaMA-family decoder in the layout @huggingface/transformers runs for text generation:
 * inputs input_ids, attention_mask, position_ids, past_key_values.N.key/value; outputs logits and
 * present.N.key/value. RMSNorm, rotary embeddings (rotate-half layout), grouped-query attention with an optional
 * sliding window per layer, gated MLP (SiLU or GELU), tied or untied lm_head, the biases the config declares.
 * Standard ONNX operators only (opset 14), all of which onnxruntime's CPU provider runs.
 */
/** TensorProto.DataType FLOAT, for Cast. */
const ONNX_FLOAT = 1;

export type WeightSource = (name: string) => Float32Array | undefined | Promise<Float32Array | undefined>;

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private counter = 0;

  constant(name: string, dims: number[], values: Float32Array | BigInt64Array): string {
    this.initializers.push({ name, dims, values });
    return name;
  }

  /** An int64 vector constant (shapes, axes), named uniquely from `label`. */
  ints(label: string, values: number[]): string {
    return this.constant(`${label}_const_${this.counter++}`, [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /** A float scalar, made once per name. */
  scalar(name: string, value: number): string {
    if (!this.initializers.some((t) => t.name === name)) this.constant(name, [], Float32Array.of(value));
    return name;
  }

  /** Opset ≥ 13 takes Unsqueeze/Squeeze axes as an input. */
  unsqueeze(x: string, axes: number[]): string {
    return this.op("Unsqueeze", [x, this.ints("axes", axes)]);
  }

  squeeze(x: string, axes: number[]): string {
    return this.op("Squeeze", [x, this.ints("axes", axes)]);
  }

  op(opType: string, inputs: string[], attributes: { ints?: Record<string, number>; lists?: Record<string, number[]> } = {}, name?: string): string {
    const output = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, inputs, outputs: [output], name: `${output}_node`, intAttributes: attributes.ints, intListAttributes: attributes.lists });
    return output;
  }
}

/** The MLP activation act(x), as transformers' ACT2FN computes it, in standard operators. */
const ACTIVATIONS: Record<HiddenAct, (g: GraphBuilder, x: string) => string> = {
  silu: (g, x) => g.op("Mul", [x, g.op("Sigmoid", [x])]),
  // 0.5 · x · (1 + erf(x / √2)): nn.GELU(), exact. Erf is a standard operator since opset 9.
  gelu: (g, x) => {
    const erf = g.op("Erf", [g.op("Mul", [x, g.scalar("inv_sqrt2", Math.SQRT1_2)])]);
    return g.op("Mul", [g.op("Mul", [x, g.scalar("half", 0.5)]), g.op("Add", [g.scalar("one", 1), erf])]);
  },
  gelu_pytorch_tanh: geluTanh,
  gelu_new: geluTanh,
};

/** 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))): nn.GELU(approximate="tanh"), and HF's gelu_new. */
function geluTanh(g: GraphBuilder, x: string): string {
  const cube = g.op("Mul", [x, g.op("Mul", [x, x])]);
  const inner = g.op("Mul", [g.op("Add", [x, g.op("Mul", [cube, g.scalar("gelu_cubic", 0.044715)])]), g.scalar("sqrt_2_over_pi", Math.sqrt(2 / Math.PI))]);
  return g.op("Mul", [g.op("Mul", [x, g.scalar("half", 0.5)]), g.op("Add", [g.scalar("one", 1), g.op("Tanh", [inner])])]);
}

export async function buildLlamaGraph(config: LlamaConfig, weight: WeightSource): Promise<OnnxGraph> {
  const { hidden, heads, kvHeads, headDim, layers, vocab, bias } = config;
  const g = new GraphBuilder();
  const need = async (name: string, size: number): Promise<Float32Array> => {
    const w = await weight(name);
    if (!w) throw new Error(`tensor ${name} is missing`);
    if (w.length !== size) throw new Error(`tensor ${name} has ${w.length} values, the config implies ${size}`);
    return w;
  };
  /** nn.Linear stores [out, in]; MatMul wants [in, out]. */
  const linear = async (x: string, name: string, rows: number, cols: number, withBias: boolean): Promise<string> => {
    const y = g.op("MatMul", [x, g.constant(`${name}.weight`, [cols, rows], transpose(await need(`${name}.weight`, rows * cols), rows, cols))]);
    return withBias ? g.op("Add", [y, g.constant(`${name}.bias`, [rows], await need(`${name}.bias`, rows))]) : y;
  };
  const eps = g.scalar("rms_eps", config.rmsEps);
  const two = g.scalar("two", 2);
  const rmsNorm = async (x: string, name: string): Promise<string> => {
    const meanSquare = g.op("ReduceMean", [g.op("Pow", [x, two])], { lists: { axes: [-1] }, ints: { keepdims: 1 } });
    const scaled = g.op("Div", [x, g.op("Sqrt", [g.op("Add", [meanSquare, eps])])]);
    return g.op("Mul", [scaled, g.constant(name, [hidden], await need(name, hidden))]);
  };

  // Rotary angles position · θ^(−2i/d) [batch, seq, headDim] (repeated over both halves), computed from position_ids
  // in float32 as transformers computes them, so no precomputed table bounds the sequence length.
  const positions = g.unsqueeze(g.op("Cast", ["position_ids"], { ints: { to: ONNX_FLOAT } }), [2]);
  const angles = g.op("Mul", [positions, g.constant("rope_inv_freq", [headDim], inverseFrequencies(headDim, config.ropeTheta))]);
  const unsqueezeHeads = (x: string) => g.unsqueeze(x, [1]);
  const cosAt = unsqueezeHeads(g.op("Cos", [angles]));
  const sinAt = unsqueezeHeads(g.op("Sin", [angles]));
  const rotateHalf = g.constant("rotate_half", [headDim, headDim], rotateHalfMatrix(headDim));
  const rope = (x: string) => g.op("Add", [g.op("Mul", [x, cosAt]), g.op("Mul", [g.op("MatMul", [x, rotateHalf]), sinAt])]);

  // Additive attention masks [batch, 1, query, key]. Key j is visible to query i (i, j positions in the whole
  // sequence, cache included: query i is past + its index) when j ≤ i and j is not padding; in a sliding-window
  // layer also when i − j < w, i.e. i − w < j, transformers' sliding_window_overlay (kv_idx > q_idx − window).
  const zero = g.ints("zero", [0]);
  const one = g.ints("one", [1]);
  const querySize = g.op("Slice", [g.op("Shape", ["input_ids"]), one, g.ints("two", [2])]);
  const keySize = g.op("Slice", [g.op("Shape", ["attention_mask"]), one, g.ints("two", [2])]);
  const squeeze = (x: string) => g.squeeze(x, [0]);
  const pastSize = g.op("Sub", [keySize, querySize]);
  const queryPositions = g.op("Add", [g.op("Range", [squeeze(zero), squeeze(querySize), squeeze(one)]), pastSize]);
  const keyPositions = g.op("Range", [squeeze(zero), squeeze(keySize), squeeze(one)]);
  const distance = g.op("Sub", [g.unsqueeze(queryPositions, [1]), g.unsqueeze(keyPositions, [0])]); // [query, key]: i − j
  const causal = g.op("GreaterOrEqual", [distance, squeeze(zero)]);
  const notPadding = g.unsqueeze(g.op("Cast", ["attention_mask"], { ints: { to: 9 } }), [1, 2]); // to: BOOL
  const masks = new Map<number | null, string>();
  const maskFor = (window: number | null): string => {
    let mask = masks.get(window);
    if (mask === undefined) {
      const inWindow = window === null ? causal : g.op("And", [causal, g.op("Less", [distance, squeeze(g.ints("window", [window]))])]);
      const visible = g.op("And", [g.unsqueeze(inWindow, [0, 1]), notPadding]);
      mask = g.op("Where", [visible, g.scalar("mask_open", 0), g.scalar("mask_closed", -1e9)]);
      masks.set(window, mask);
    }
    return mask;
  };

  const group = heads / kvHeads;
  const splitHeads = (x: string, n: number) => g.op("Transpose", [g.op("Reshape", [x, g.ints(`heads_${n}`, [0, 0, n, headDim])])], { lists: { perm: [0, 2, 1, 3] } });
  const repeatKv = (x: string) =>
    group === 1
      ? x
      : g.op("Reshape", [
          g.op("Expand", [g.unsqueeze(x, [2]), g.ints("expand_kv", [1, 1, group, 1, 1])]),
          g.ints("merge_kv", [0, heads, -1, headDim]),
        ]);
  const scale = g.scalar("attention_scale", 1 / Math.sqrt(headDim));

  const embed = await need("model.embed_tokens.weight", vocab * hidden);
  let x = g.op("Gather", [g.constant("model.embed_tokens.weight", [vocab, hidden], embed), "input_ids"], { ints: { axis: 0 } });
  const cacheInputs: OnnxValueInfo[] = [];
  const cacheOutputs: OnnxValueInfo[] = [];
  const activation = ACTIVATIONS[config.hiddenAct];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    const h = await rmsNorm(x, `${p}input_layernorm.weight`);
    const q = rope(splitHeads(await linear(h, `${p}self_attn.q_proj`, heads * headDim, hidden, bias.qkv), heads));
    const k = rope(splitHeads(await linear(h, `${p}self_attn.k_proj`, kvHeads * headDim, hidden, bias.qkv), kvHeads));
    const v = splitHeads(await linear(h, `${p}self_attn.v_proj`, kvHeads * headDim, hidden, bias.qkv), kvHeads);
    const keys = g.op("Concat", [`past_key_values.${l}.key`, k], { ints: { axis: 2 } }, `present.${l}.key`);
    const values = g.op("Concat", [`past_key_values.${l}.value`, v], { ints: { axis: 2 } }, `present.${l}.value`);
    for (const kind of ["key", "value"]) {
      cacheInputs.push({ name: `past_key_values.${l}.${kind}`, elemType: 1, shape: ["batch_size", kvHeads, "past_sequence_length", headDim] });
      cacheOutputs.push({ name: `present.${l}.${kind}`, elemType: 1, shape: ["batch_size", kvHeads, "total_sequence_length", headDim] });
    }
    const mask = maskFor(config.slidingWindow[l] ?? null);
    const scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [repeatKv(keys)], { lists: { perm: [0, 1, 3, 2] } })]), scale]), mask]);
    const attended = g.op("MatMul", [g.op("Softmax", [scores], { ints: { axis: -1 } }), repeatKv(values)]);
    const merged = g.op("Reshape", [g.op("Transpose", [attended], { lists: { perm: [0, 2, 1, 3] } }), g.ints("concat_heads", [0, 0, heads * headDim])]);
    x = g.op("Add", [x, await linear(merged, `${p}self_attn.o_proj`, hidden, heads * headDim, bias.o)]);
    const m = await rmsNorm(x, `${p}post_attention_layernorm.weight`);
    const gate = await linear(m, `${p}mlp.gate_proj`, config.intermediate, hidden, bias.mlp);
    const up = await linear(m, `${p}mlp.up_proj`, config.intermediate, hidden, bias.mlp);
    x = g.op("Add", [x, await linear(g.op("Mul", [activation(g, gate), up]), `${p}mlp.down_proj`, hidden, config.intermediate, bias.mlp)]);
  }
  const head = config.tiedEmbeddings ? embed : await need("lm_head.weight", vocab * hidden);
  g.op("MatMul", [await rmsNorm(x, "model.norm.weight"), g.constant("lm_head", [hidden, vocab], transpose(head, vocab, hidden))], {}, "logits");

  return {
    name: "llama",
    opset: 14,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [
      { name: "input_ids", elemType: 7, shape: ["batch_size", "sequence_length"] },
      { name: "attention_mask", elemType: 7, shape: ["batch_size", "total_sequence_length"] },
      { name: "position_ids", elemType: 7, shape: ["batch_size", "sequence_length"] },
      ...cacheInputs,
    ],
    outputs: [{ name: "logits", elemType: 1, shape: ["batch_size", "sequence_length", vocab] }, ...cacheOutputs],
  };
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/** θ^(−2i/d) for each rotated pair i, repeated over both halves of the head (rotate-half layout). */
function inverseFrequencies(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(headDim);
  for (let i = 0; i < half; i++) out[i] = out[i + half] = theta ** ((-2 * i) / headDim);
  return out;
}

/** x · R = rotate_half(x) = concat(−x[half:], x[:half]). */
function rotateHalfMatrix(headDim: number): Float32Array {
  const half = headDim / 2;
  const r = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    r[(i + half) * headDim + i] = -1; // out[i] = −x[i + half]
    r[i * headDim + i + half] = 1; // out[i + half] = x[i]
  }
  return r;
}
