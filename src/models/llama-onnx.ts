import type { LlamaConfig } from "./llama-reference.ts";
import type { OnnxGraph, OnnxNode, OnnxTensor, OnnxValueInfo } from "./onnx-proto.ts";

/**
 * The ONNX graph of a LLaMA-family decoder in the layout @huggingface/transformers runs for text generation:
 * inputs input_ids, attention_mask, position_ids, past_key_values.N.key/value; outputs logits and
 * present.N.key/value. RMSNorm, rotary embeddings (rotate-half layout), grouped-query attention, SwiGLU MLP,
 * tied or untied lm_head, optional q/k/v biases (qwen2).
 */
export type WeightSource = (name: string) => Float32Array | undefined;

/** Rotary tables cover this many positions. */
export const MAX_POSITIONS = 4096;

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

  scalar(name: string, value: number): string {
    return this.constant(name, [], Float32Array.of(value));
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

export function buildLlamaGraph(config: LlamaConfig, weight: WeightSource): OnnxGraph {
  const { hidden, heads, kvHeads, headDim, layers, vocab } = config;
  const g = new GraphBuilder();
  const need = (name: string): Float32Array => {
    const w = weight(name);
    if (!w) throw new Error(`tensor ${name} is missing`);
    return w;
  };
  /** nn.Linear stores [out, in]; MatMul wants [in, out]. */
  const linearWeight = (name: string, rows: number, cols: number): string => g.constant(name, [cols, rows], transpose(need(name), rows, cols));
  const linear = (x: string, name: string, rows: number, cols: number): string => {
    const y = g.op("MatMul", [x, linearWeight(`${name}.weight`, rows, cols)]);
    const bias = weight(`${name}.bias`);
    return bias ? g.op("Add", [y, g.constant(`${name}.bias`, [rows], bias)]) : y;
  };
  const eps = g.scalar("rms_eps", config.rmsEps);
  const two = g.scalar("two", 2);
  const rmsNorm = (x: string, name: string): string => {
    const meanSquare = g.op("ReduceMean", [g.op("Pow", [x, two])], { lists: { axes: [-1] }, ints: { keepdims: 1 } });
    const scaled = g.op("Div", [x, g.op("Sqrt", [g.op("Add", [meanSquare, eps])])]);
    return g.op("Mul", [scaled, g.constant(name, [hidden], need(name))]);
  };

  // Rotary tables [MAX_POSITIONS, headDim] (angles repeated over both halves), gathered by position_ids.
  const { cos, sin } = rotaryTables(headDim, config.ropeTheta);
  const unsqueezeHeads = (x: string) => g.unsqueeze(x, [1]);
  const cosAt = unsqueezeHeads(g.op("Gather", [g.constant("rope_cos", [MAX_POSITIONS, headDim], cos), "position_ids"], { ints: { axis: 0 } }));
  const sinAt = unsqueezeHeads(g.op("Gather", [g.constant("rope_sin", [MAX_POSITIONS, headDim], sin), "position_ids"], { ints: { axis: 0 } }));
  const rotateHalf = g.constant("rotate_half", [headDim, headDim], rotateHalfMatrix(headDim));
  const rope = (x: string) => g.op("Add", [g.op("Mul", [x, cosAt]), g.op("Mul", [g.op("MatMul", [x, rotateHalf]), sinAt])]);

  // Additive attention mask [batch, 1, query, key]: key j is visible to query i when j ≤ past + i and not padding.
  const zero = g.ints("zero", [0]);
  const one = g.ints("one", [1]);
  const querySize = g.op("Slice", [g.op("Shape", ["input_ids"]), one, g.ints("two", [2])]);
  const keySize = g.op("Slice", [g.op("Shape", ["attention_mask"]), one, g.ints("two", [2])]);
  const squeeze = (x: string) => g.squeeze(x, [0]);
  const pastSize = g.op("Sub", [keySize, querySize]);
  const queryPositions = g.op("Add", [g.op("Range", [squeeze(zero), squeeze(querySize), squeeze(one)]), pastSize]);
  const keyPositions = g.op("Range", [squeeze(zero), squeeze(keySize), squeeze(one)]);
  const causal = g.op("LessOrEqual", [
    g.unsqueeze(keyPositions, [0]),
    g.unsqueeze(queryPositions, [1]),
  ]);
  const notPadding = g.unsqueeze(g.op("Cast", ["attention_mask"], { ints: { to: 9 } }), [1, 2]); // to: BOOL
  const visible = g.op("And", [g.unsqueeze(causal, [0, 1]), notPadding]);
  const mask = g.op("Where", [visible, g.scalar("mask_open", 0), g.scalar("mask_closed", -1e9)]);

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

  let x = g.op("Gather", [g.constant("model.embed_tokens.weight", [vocab, hidden], need("model.embed_tokens.weight")), "input_ids"], { ints: { axis: 0 } });
  const cacheInputs: OnnxValueInfo[] = [];
  const cacheOutputs: OnnxValueInfo[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    const h = rmsNorm(x, `${p}input_layernorm.weight`);
    const q = rope(splitHeads(linear(h, `${p}self_attn.q_proj`, heads * headDim, hidden), heads));
    const k = rope(splitHeads(linear(h, `${p}self_attn.k_proj`, kvHeads * headDim, hidden), kvHeads));
    const v = splitHeads(linear(h, `${p}self_attn.v_proj`, kvHeads * headDim, hidden), kvHeads);
    const keys = g.op("Concat", [`past_key_values.${l}.key`, k], { ints: { axis: 2 } }, `present.${l}.key`);
    const values = g.op("Concat", [`past_key_values.${l}.value`, v], { ints: { axis: 2 } }, `present.${l}.value`);
    for (const kind of ["key", "value"]) {
      cacheInputs.push({ name: `past_key_values.${l}.${kind}`, elemType: 1, shape: ["batch_size", kvHeads, "past_sequence_length", headDim] });
      cacheOutputs.push({ name: `present.${l}.${kind}`, elemType: 1, shape: ["batch_size", kvHeads, "total_sequence_length", headDim] });
    }
    const scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [repeatKv(keys)], { lists: { perm: [0, 1, 3, 2] } })]), scale]), mask]);
    const attended = g.op("MatMul", [g.op("Softmax", [scores], { ints: { axis: -1 } }), repeatKv(values)]);
    const merged = g.op("Reshape", [g.op("Transpose", [attended], { lists: { perm: [0, 2, 1, 3] } }), g.ints("concat_heads", [0, 0, heads * headDim])]);
    x = g.op("Add", [x, linear(merged, `${p}self_attn.o_proj`, hidden, heads * headDim)]);
    const m = rmsNorm(x, `${p}post_attention_layernorm.weight`);
    const gate = linear(m, `${p}mlp.gate_proj`, config.intermediate, hidden);
    const up = linear(m, `${p}mlp.up_proj`, config.intermediate, hidden);
    const swiglu = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]);
    x = g.op("Add", [x, linear(swiglu, `${p}mlp.down_proj`, hidden, config.intermediate)]);
  }
  const head = (config.tiedEmbeddings ? undefined : weight("lm_head.weight")) ?? need("model.embed_tokens.weight");
  g.op("MatMul", [rmsNorm(x, "model.norm.weight"), g.constant("lm_head", [hidden, vocab], transpose(head, vocab, hidden))], {}, "logits");

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

function rotaryTables(headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(MAX_POSITIONS * headDim);
  const sin = new Float32Array(MAX_POSITIONS * headDim);
  for (let p = 0; p < MAX_POSITIONS; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * theta ** ((-2 * i) / headDim);
      for (const j of [i, i + half]) {
        cos[p * headDim + j] = Math.cos(angle);
        sin[p * headDim + j] = Math.sin(angle);
      }
    }
  }
  return { cos, sin };
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
