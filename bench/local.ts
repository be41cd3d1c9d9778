/**
 * Local-model benchmark: export time per GB of safetensors weights, and generation tokens/s through mergeval's
 * path (@huggingface/transformers + the onnx backend) against a bare onnxruntime-node greedy loop with the KV
 * cache, on the same exported model and the same token counts. It measures; it never fails because of a time.
 *
 *   npm run bench -- --suite local [--hidden 768] [--layers 6] [--tokens 48] [--prompts 6]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { BYTE_VOCAB_SIZE, byteTokenizerConfig, byteTokenizerJson } from "../src/fixtures/byte-tokenizer.ts";
import { createOnnxBackend } from "../src/generate/backends/onnx.ts";
import { saveCheckpoint, type TensorToSave } from "../src/merge/safetensors/save.ts";
import { exportOnnx } from "../src/models/export.ts";

const { values } = parseArgs({
  options: {
    hidden: { type: "string", default: "768" },
    layers: { type: "string", default: "6" },
    tokens: { type: "string", default: "48" },
    prompts: { type: "string", default: "6" },
  },
  strict: false,
});
const hidden = Number(values.hidden);
const layers = Number(values.layers);
const intermediate = Math.round((hidden * 8) / 3 / 64) * 64;
const heads = hidden / 64;
const kvHeads = heads / 2;
const maxTokens = Number(values.tokens);

function weights(): TensorToSave[] {
  let state = 0x9e3779b9;
  const random = (n: number, scale: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      out[i] = ((state >>> 0) / 4294967296 - 0.5) * 2 * scale;
    }
    return out;
  };
  const matrix = (name: string, rows: number, cols: number): TensorToSave => ({ name, dtype: "BF16", shape: [rows, cols], values: random(rows * cols, 1 / Math.sqrt(cols)) });
  const norm = (name: string): TensorToSave => ({ name, dtype: "BF16", shape: [hidden], values: new Float32Array(hidden).fill(1) });
  const kv = kvHeads * 64;
  const list = [matrix("model.embed_tokens.weight", BYTE_VOCAB_SIZE, hidden)];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    list.push(
      norm(`${p}input_layernorm.weight`), matrix(`${p}self_attn.q_proj.weight`, hidden, hidden), matrix(`${p}self_attn.k_proj.weight`, kv, hidden),
      matrix(`${p}self_attn.v_proj.weight`, kv, hidden), matrix(`${p}self_attn.o_proj.weight`, hidden, hidden), norm(`${p}post_attention_layernorm.weight`),
      matrix(`${p}mlp.gate_proj.weight`, intermediate, hidden), matrix(`${p}mlp.up_proj.weight`, intermediate, hidden), matrix(`${p}mlp.down_proj.weight`, hidden, intermediate),
    );
  }
  list.push(norm("model.norm.weight"), matrix("lm_head.weight", BYTE_VOCAB_SIZE, hidden));
  return list;
}

const dir = await mkdtemp(join(tmpdir(), "mergeval-bench-local-"));
try {
  const model = join(dir, "model");
  const tensors = weights();
  await saveCheckpoint(model, tensors);
  const storedBytes = tensors.reduce((n, t) => n + t.values.length * 2, 0);
  await writeFile(join(model, "config.json"), JSON.stringify({
    model_type: "llama", architectures: ["LlamaForCausalLM"], vocab_size: BYTE_VOCAB_SIZE, hidden_size: hidden, intermediate_size: intermediate,
    num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kvHeads, rms_norm_eps: 1e-5, rope_theta: 10000,
    max_position_embeddings: 2048, bos_token_id: 1, eos_token_id: 2, tie_word_embeddings: false,
  }));
  // An end-of-sequence id the model never produces keeps every generation at exactly maxTokens.
  await writeFile(join(model, "generation_config.json"), JSON.stringify({ bos_token_id: 1, eos_token_id: 0 }));
  await writeFile(join(model, "tokenizer.json"), JSON.stringify(byteTokenizerJson()));
  await writeFile(join(model, "tokenizer_config.json"), JSON.stringify(byteTokenizerConfig()));

  const exportStart = performance.now();
  const exported = await exportOnnx(model);
  const exportSeconds = (performance.now() - exportStart) / 1000;

  const prompts = ["Why is the sky blue?", "आसमान नीला क्यों है?", "Pourquoi le ciel est-il bleu ?", "¿Por qué?", "لماذا؟", "Почему небо голубое?"].slice(0, Number(values.prompts));
  const backend = await createOnnxBackend({ dir: model });
  const decoding = { maxTokens, temperature: 0 };
  await backend.generate({ messages: [{ role: "user", content: "warm up" }], decoding }, new AbortController().signal);
  let ours = 0;
  const promptIds: number[][] = [];
  const oursStart = performance.now();
  for (const text of prompts) {
    const r = await backend.generate({ messages: [{ role: "user", content: text }], decoding }, new AbortController().signal);
    ours += r.completionTokens ?? 0;
    // <s><|user|>text</s><|assistant|>, as the byte-level tokenizer encodes it
    promptIds.push([1, 4, ...[...new TextEncoder().encode(text)].map((b) => b + 6), 2, 5]);
  }
  const oursSeconds = (performance.now() - oursStart) / 1000;
  await backend.close?.();

  // The same work as a bare onnxruntime-node loop: prefill, then one token at a time through the cache.
  const session = await ort.InferenceSession.create(join(model, "onnx", "model.onnx"));
  const int64 = (v: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(v.map(BigInt)), dims);
  let bare = 0;
  const bareStart = performance.now();
  for (const ids of promptIds) {
    let cache: Record<string, ort.Tensor> = {};
    for (let l = 0; l < layers; l++) for (const k of ["key", "value"]) cache[`past_key_values.${l}.${k}`] = new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, 64]);
    let input = ids;
    let length = 0;
    for (let step = 0; step < maxTokens; step++) {
      const out = await session.run({
        input_ids: int64(input, [1, input.length]),
        attention_mask: int64(new Array(length + input.length).fill(1), [1, length + input.length]),
        position_ids: int64(input.map((_, i) => length + i), [1, input.length]),
        ...cache,
      });
      const logits = out.logits!.data as Float32Array;
      const last = logits.subarray((input.length - 1) * BYTE_VOCAB_SIZE, input.length * BYTE_VOCAB_SIZE);
      let next = 0;
      for (let i = 1; i < last.length; i++) if (last[i]! > last[next]!) next = i;
      cache = Object.fromEntries(Object.keys(cache).map((name) => [name, out[name.replace("past_key_values", "present")]!]));
      length += input.length;
      input = [next];
      bare++;
    }
  }
  const bareSeconds = (performance.now() - bareStart) / 1000;
  await session.release();

  const oursRate = ours / oursSeconds;
  const bareRate = bare / bareSeconds;
  console.log(`local model: llama, hidden ${hidden}, ${layers} layers, ${(storedBytes / 1e6).toFixed(0)} MB of BF16 weights`);
  console.log(`  export             ${exportSeconds.toFixed(2)} s = ${(exportSeconds / (storedBytes / 1e9)).toFixed(1)} s per GB of weights (${(exported.bytes / 1e6).toFixed(0)} MB of ONNX)`);
  console.log(`  mergeval path      ${oursRate.toFixed(1)} tokens/s (${ours} tokens, ${prompts.length} prompts)`);
  console.log(`  bare onnxruntime   ${bareRate.toFixed(1)} tokens/s (${bare} tokens)`);
  console.log(`  ratio              ${(oursRate / bareRate).toFixed(2)}x  (target >= 0.9x)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
