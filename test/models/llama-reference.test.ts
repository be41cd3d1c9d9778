import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAMILY, familyConfig, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { seededRng } from "../../src/merge/rng.ts";
import { parseLlamaConfig, type LlamaConfig } from "../../src/models/llama-config.ts";
import { erf, llamaGreedy, llamaLogits, loadWeights } from "../../src/models/llama-reference.ts";

const CONFIG: LlamaConfig = {
  modelType: "llama",
  vocab: 11,
  hidden: 8,
  intermediate: 12,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 2,
  rmsEps: 1e-6,
  ropeTheta: 10000,
  hiddenAct: "silu",
  slidingWindow: [null, null],
  bias: { qkv: false, o: false, mlp: false },
  tiedEmbeddings: false,
};

function randomWeights(config: LlamaConfig, seed: number): Map<string, Float64Array> {
  const rng = seededRng("ref", seed);
  const m = (rows: number, cols: number) => Float64Array.from({ length: rows * cols }, () => (rng.next() - 0.5) * 0.8);
  const ones = (n: number) => new Float64Array(n).fill(1);
  const { vocab, hidden, intermediate, heads, kvHeads, headDim } = config;
  const w = new Map<string, Float64Array>([["model.embed_tokens.weight", m(vocab, hidden)]]);
  for (let l = 0; l < config.layers; l++) {
    const p = `model.layers.${l}.`;
    w.set(`${p}input_layernorm.weight`, ones(hidden));
    w.set(`${p}self_attn.q_proj.weight`, m(heads * headDim, hidden));
    w.set(`${p}self_attn.k_proj.weight`, m(kvHeads * headDim, hidden));
    w.set(`${p}self_attn.v_proj.weight`, m(kvHeads * headDim, hidden));
    w.set(`${p}self_attn.o_proj.weight`, m(hidden, heads * headDim));
    w.set(`${p}post_attention_layernorm.weight`, ones(hidden));
    w.set(`${p}mlp.gate_proj.weight`, m(intermediate, hidden));
    w.set(`${p}mlp.up_proj.weight`, m(intermediate, hidden));
    w.set(`${p}mlp.down_proj.weight`, m(hidden, intermediate));
  }
  w.set("model.norm.weight", ones(hidden));
  w.set("lm_head.weight", m(vocab, hidden));
  return w;
}

const close = (a: Float64Array, b: Float64Array) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 10));

describe("LLaMA reference forward pass (float64)", () => {
  const weights = randomWeights(CONFIG, 1);
  const ids = [3, 1, 4, 1, 5, 9, 2, 6];

  it("is causal: a prefix gives the same logits as the first rows of the whole sequence", () => {
    const whole = llamaLogits(CONFIG, (n) => weights.get(n), ids);
    const prefix = llamaLogits(CONFIG, (n) => weights.get(n), ids.slice(0, 4));
    prefix.forEach((row, t) => close(row, whole[t]!));
    expect(whole[5]).not.toEqual(llamaLogits(CONFIG, (n) => weights.get(n), [...ids.slice(0, 5), 7])[5]);
  });

  it("without attention and MLP outputs it is lm_head(norm(embedding)), whatever the position", () => {
    const quiet = new Map(weights);
    for (let l = 0; l < CONFIG.layers; l++) {
      quiet.set(`model.layers.${l}.self_attn.o_proj.weight`, new Float64Array(CONFIG.hidden * CONFIG.heads * CONFIG.headDim));
      quiet.set(`model.layers.${l}.mlp.down_proj.weight`, new Float64Array(CONFIG.hidden * CONFIG.intermediate));
    }
    const logits = llamaLogits(CONFIG, (n) => quiet.get(n), [7, 2, 7]);
    const e = weights.get("model.embed_tokens.weight")!.slice(7 * 8, 8 * 8);
    const rms = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / 8 + 1e-6);
    const head = weights.get("lm_head.weight")!;
    const expected = Float64Array.from({ length: 11 }, (_, o) => e.reduce((s, v, i) => s + (v / rms) * head[o * 8 + i]!, 0));
    close(logits[0]!, expected);
    close(logits[2]!, expected);
  });

  it("maps query heads to key/value heads as grouped-query attention does", () => {
    const full: LlamaConfig = { ...CONFIG, kvHeads: 4 };
    const expanded = new Map(weights);
    for (let l = 0; l < CONFIG.layers; l++) {
      for (const proj of ["k_proj", "v_proj"]) {
        const name = `model.layers.${l}.self_attn.${proj}.weight`;
        const w = weights.get(name)!;
        const rowsPerHead = CONFIG.headDim * CONFIG.hidden;
        const out = new Float64Array(4 * rowsPerHead);
        for (let h = 0; h < 4; h++) out.set(w.slice(Math.floor(h / 2) * rowsPerHead, (Math.floor(h / 2) + 1) * rowsPerHead), h * rowsPerHead);
        expanded.set(name, out);
      }
    }
    const a = llamaLogits(CONFIG, (n) => weights.get(n), ids);
    const b = llamaLogits(full, (n) => expanded.get(n), ids);
    a.forEach((row, t) => close(row, b[t]!));
  });

  it("runs the fixture family from safetensors and decodes greedily, deterministically", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mergeval-ref-"));
    try {
      await writeFixtureFamily(dir, FAMILY.filter((m) => m.name === "base"));
      const config = parseLlamaConfig(familyConfig(), "config.json");
      const w = await loadWeights(join(dir, "base"));
      const prompt = [1, 4, 6 + 104, 6 + 105, 2, 5]; // <s><|user|>hi</s><|assistant|>
      const first = llamaGreedy(config, (n) => w.get(n), prompt, 4, [2]);
      expect(first.length).toBeGreaterThan(0);
      expect(llamaGreedy(config, (n) => w.get(n), prompt, 4, [2])).toEqual(first);
      expect(llamaLogits(config, (n) => w.get(n), prompt).every((row) => row.every(Number.isFinite))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("with a sliding window w, position t sees positions t − w < s ≤ t, as transformers' sliding_window_overlay", () => {
    const oneLayer: LlamaConfig = { ...CONFIG, layers: 1, slidingWindow: [3] };
    const logits = (tokens: number[]) => llamaLogits(oneLayer, (n) => weights.get(n), tokens)[6]!;
    const base = [3, 1, 4, 1, 5, 9, 2];
    const changed = (at: number) => base.map((id, i) => (i === at ? 7 : id));
    expect(logits(changed(3))).toEqual(logits(base)); // 6 − 3 = 3: outside the window
    expect(logits(changed(4))).not.toEqual(logits(base)); // 4 > 6 − 3: inside
    const full = llamaLogits({ ...oneLayer, slidingWindow: [null] }, (n) => weights.get(n), base);
    const wide = llamaLogits({ ...oneLayer, slidingWindow: [7] }, (n) => weights.get(n), base);
    wide.forEach((row, t) => close(row, full[t]!)); // a window as long as the sequence is full attention
  });

  it("computes erf to about 1e-15 (float GELU needs 1e-7)", () => {
    const known: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [4.5, 0.9999999998033839],
      [5.9, 0.9999999999999999],
      [7, 1],
    ];
    for (const [x, value] of known) {
      expect(Math.abs(erf(x) - value)).toBeLessThan(2e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
  });

  it("reads config.json with transformers' defaults for each model type", () => {
    const config = (overrides: Record<string, unknown>) => parseLlamaConfig({ ...familyConfig(), ...overrides }, "c");
    const base = config({ hidden_act: undefined, tie_word_embeddings: undefined });
    expect(base).toMatchObject({ hiddenAct: "silu", tiedEmbeddings: false, slidingWindow: [null, null, null, null], ropeTheta: 10000, headDim: 16 });
    expect(base.bias).toEqual({ qkv: false, o: false, mlp: false });
    expect(config({ attention_bias: true, mlp_bias: true }).bias).toEqual({ qkv: true, o: true, mlp: true });
    expect(config({ model_type: "qwen2", attention_bias: true, mlp_bias: true }).bias).toEqual({ qkv: true, o: false, mlp: false });
    expect(config({ model_type: "mistral", attention_bias: true }).bias).toEqual({ qkv: false, o: false, mlp: false });
    // Sliding windows: llama has none; mistral's defaults to 4096; qwen2's needs use_sliding_window.
    expect(config({ sliding_window: 2 }).slidingWindow).toEqual([null, null, null, null]);
    expect(config({ model_type: "mistral", max_position_embeddings: undefined }).slidingWindow).toEqual([4096, 4096, 4096, 4096]);
    expect(config({ model_type: "mistral", sliding_window: 4096, max_position_embeddings: 4096 }).slidingWindow).toEqual([null, null, null, null]);
    expect(config({ model_type: "mistral", sliding_window: null }).slidingWindow).toEqual([null, null, null, null]);
    expect(config({ model_type: "mistral", sliding_window: 5, layer_types: ["full_attention"] }).slidingWindow).toEqual([5, 5, 5, 5]);
    expect(config({ model_type: "qwen2", sliding_window: 5 }).slidingWindow).toEqual([null, null, null, null]);
    expect(config({ model_type: "qwen2", use_sliding_window: true, sliding_window: 5 }).slidingWindow).toEqual([null, null, null, null]); // max_window_layers 28
    expect(config({ model_type: "qwen2", use_sliding_window: true, sliding_window: 5, max_window_layers: 1 }).slidingWindow).toEqual([null, 5, 5, 5]);
    const layerTypes = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"];
    expect(config({ model_type: "qwen2", use_sliding_window: true, sliding_window: 5, layer_types: layerTypes }).slidingWindow).toEqual([5, null, 5, null]);
    // Key/value heads when the key is absent: llama all heads, mistral 8; head_dim when given.
    expect(config({ num_key_value_heads: undefined }).kvHeads).toBe(4);
    expect(config({ model_type: "mistral", num_key_value_heads: undefined, num_attention_heads: 16, hidden_size: 64 }).kvHeads).toBe(8);
    expect(config({ head_dim: 32 }).headDim).toBe(32);
    // The default rotary type, however it is spelled, is no scaling.
    expect(config({ rope_scaling: { rope_type: "default" }, rope_theta: 5e5 }).ropeTheta).toBe(5e5);
    expect(config({ rope_theta: undefined, rope_parameters: { rope_type: "default", rope_theta: 1e6 } }).ropeTheta).toBe(1e6);
  });

  it("refuses architectures and options it does not implement", () => {
    expect(() => parseLlamaConfig({ ...familyConfig(), model_type: "gpt2" }, "x/config.json")).toThrow(/x\/config.json: model_type "gpt2" is not supported/);
    expect(() => parseLlamaConfig({ ...familyConfig(), rope_scaling: { type: "linear", factor: 2 } }, "c")).toThrow(/rope_scaling/);
    expect(() => parseLlamaConfig({ ...familyConfig(), hidden_act: "relu2" }, "x/config.json")).toThrow(
      'x/config.json: hidden_act "relu2" is not supported (supported: silu, gelu, gelu_pytorch_tanh, gelu_new, swish)',
    );
    expect(() => parseLlamaConfig({ ...familyConfig(), tie_word_embeddings: "yes" }, "c")).toThrow('tie_word_embeddings "yes" is not true or false');
  });
});
