import type { Engine } from "./engine.ts";
import { transpose } from "./kernels.ts";
import { attentionForward } from "./layers/attention.ts";
import { crossEntropy } from "./layers/cross-entropy.ts";
import { rmsNormForward } from "./layers/rms-norm.ts";
import { rotate } from "./layers/rope.ts";

/**
 * The forward pass over the batch in engine.tokens; keeps every activation the backward pass needs, fills
 * engine.logits and engine.dlogits, and returns the weighted mean cross-entropy against engine.targets.
 */
export function forward(engine: Engine): number {
  const { kernels, shape, rows, params, transposed } = engine;
  const { vocab, hidden: H, intermediate: I, heads, kvHeads, headDim, rmsEps } = shape;
  const [Hq, Hkv] = [heads * headDim, kvHeads * headDim];
  const p = (name: string) => params.get(name)!;
  const wt = (name: string) => transposed.get(name)!.values;
  for (const [name, t] of transposed) transpose(p(name), t.out, t.in, t.in, t.values);
  // y (+)= x · Wᵀ through the transposed weight.
  const linear = (x: Float32Array, name: string, y: Float32Array, inDim: number, outDim: number, accumulate = false) =>
    kernels.gemm(rows, inDim, outDim, x, inDim, wt(name), outDim, y, outDim, accumulate);

  const embed = p("model.embed_tokens.weight");
  const first = engine.layers[0]?.input ?? engine.final;
  for (let r = 0; r < rows; r++) first.set(embed.subarray(engine.tokens[r]! * H, (engine.tokens[r]! + 1) * H), r * H);

  engine.layers.forEach((a, l) => {
    const pre = `model.layers.${l}.`;
    rmsNormForward(a.input, p(`${pre}input_layernorm.weight`), a.norm1, a.rms1, rows, H, rmsEps);
    linear(a.norm1, `${pre}self_attn.q_proj.weight`, a.q, H, Hq);
    linear(a.norm1, `${pre}self_attn.k_proj.weight`, a.k, H, Hkv);
    linear(a.norm1, `${pre}self_attn.v_proj.weight`, a.v, H, Hkv);
    rotate(a.q, rows, engine.seqLen, heads, engine.rope, false);
    rotate(a.k, rows, engine.seqLen, kvHeads, engine.rope, false);
    attentionForward(kernels, { batch: engine.batch, seqLen: engine.seqLen, heads, kvHeads, headDim }, a.q, a.k, a.v, a.probs, a.attn, engine.attentionScratch);
    a.mid.set(a.input.subarray(0, rows * H));
    linear(a.attn, `${pre}self_attn.o_proj.weight`, a.mid, Hq, H, true);
    rmsNormForward(a.mid, p(`${pre}post_attention_layernorm.weight`), a.norm2, a.rms2, rows, H, rmsEps);
    linear(a.norm2, `${pre}mlp.gate_proj.weight`, a.gate, H, I);
    linear(a.norm2, `${pre}mlp.up_proj.weight`, a.up, H, I);
    kernels.swigluForward(a.gate, a.up, a.sigmoid, a.act, rows * I);
    const next = engine.layers[l + 1]?.input ?? engine.final;
    next.set(a.mid.subarray(0, rows * H));
    linear(a.act, `${pre}mlp.down_proj.weight`, next, I, H, true);
  });
  rmsNormForward(engine.final, p("model.norm.weight"), engine.finalNorm, engine.finalRms, rows, H, rmsEps);
  linear(engine.finalNorm, "lm_head.weight", engine.logits, H, vocab);
  return crossEntropy(engine.logits, engine.targets, engine.weights, engine.dlogits, rows, vocab);
}
