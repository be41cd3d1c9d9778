import type { Engine } from "./engine.ts";
import { attentionBackward } from "./layers/attention.ts";
import { linearBackward } from "./layers/linear.ts";
import { rmsNormBackward } from "./layers/rms-norm.ts";
import { rotate } from "./layers/rope.ts";

/**
 * The backward pass of the last forward(engine): writes every parameter's gradient into engine.grads (each
 * tensor is written once, not accumulated), from engine.dlogits back to the embedding.
 */
export function backward(engine: Engine): void {
  const { kernels, shape, rows, params, grads, grad } = engine;
  const { vocab, hidden: H, intermediate: I, heads, kvHeads, headDim } = shape;
  const [Hq, Hkv] = [heads * headDim, kvHeads * headDim];
  const p = (name: string) => params.get(name)!;
  const g = (name: string) => grads.get(name)!;
  // dx (+)= dy · W, dW = dyᵀ · x for y = x · Wᵀ.
  const linear = (dy: Float32Array, x: Float32Array, name: string, dx: Float32Array, inDim: number, outDim: number, accumulateDx = false) =>
    linearBackward(kernels, dy, x, p(name), dx, g(name), rows, inDim, outDim, accumulateDx);
  const norm = (dy: Float32Array, x: Float32Array, name: string, rms: Float32Array) =>
    rmsNormBackward(dy, x, p(name), rms, grad.residual, g(name), grad.normWeight, rows, H);

  linear(engine.dlogits, engine.finalNorm, "lm_head.weight", grad.norm, H, vocab);
  grad.residual.fill(0, 0, rows * H);
  norm(grad.norm, engine.final, "model.norm.weight", engine.finalRms);

  for (let l = engine.layers.length - 1; l >= 0; l--) {
    const a = engine.layers[l]!;
    const pre = `model.layers.${l}.`;
    // The MLP branch: next = mid + down(silu(gate(norm2)) · up(norm2)).
    linear(grad.residual, a.act, `${pre}mlp.down_proj.weight`, grad.act, I, H);
    kernels.swigluBackward(grad.act, a.gate, a.up, a.sigmoid, grad.gate, grad.up, rows * I);
    linear(grad.gate, a.norm2, `${pre}mlp.gate_proj.weight`, grad.norm, H, I);
    linear(grad.up, a.norm2, `${pre}mlp.up_proj.weight`, grad.norm, H, I, true);
    norm(grad.norm, a.mid, `${pre}post_attention_layernorm.weight`, a.rms2);
    // The attention branch: mid = input + o(attention(q, k, v of norm1)).
    linear(grad.residual, a.attn, `${pre}self_attn.o_proj.weight`, grad.attn, Hq, H);
    attentionBackward(kernels, { batch: engine.batch, seqLen: engine.seqLen, heads, kvHeads, headDim }, a.q, a.k, a.v, a.probs, grad.attn, grad.q, grad.k, grad.v, engine.attentionScratch);
    rotate(grad.q, rows, engine.seqLen, heads, engine.rope, true);
    rotate(grad.k, rows, engine.seqLen, kvHeads, engine.rope, true);
    linear(grad.q, a.norm1, `${pre}self_attn.q_proj.weight`, grad.norm, H, Hq);
    linear(grad.k, a.norm1, `${pre}self_attn.k_proj.weight`, grad.norm, H, Hkv, true);
    linear(grad.v, a.norm1, `${pre}self_attn.v_proj.weight`, grad.norm, H, Hkv, true);
    norm(grad.norm, a.input, `${pre}input_layernorm.weight`, a.rms1);
  }

  const dEmbed = g("model.embed_tokens.weight");
  dEmbed.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = engine.tokens[r]! * H;
    for (let j = 0; j < H; j++) dEmbed[o + j] = dEmbed[o + j]! + grad.residual[r * H + j]!;
  }
}
