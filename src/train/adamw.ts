/** AdamW hyper-parameters; β1, β2 and ε as LLaMA's pre-training. */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

/** One tensor's parameters, gradient, moments, and whether weight decay applies to it. */
export interface AdamWSlot {
  params: Float32Array;
  grads: Float32Array;
  m: Float32Array;
  v: Float32Array;
  decay: boolean;
}

/**
 * AdamW as torch.optim.AdamW: weight decay decoupled from the gradient (p ← p − lr·λ·p, before the Adam step),
 * bias-corrected moments, ε added to √v̂. `step` counts from 1. Norm weights are given decay: false by the
 * caller, as is usual: decaying them toward 0 would shrink every activation.
 */
export function adamwStep(slots: readonly AdamWSlot[], step: number, lr: number, options: AdamWOptions): void {
  const { beta1, beta2, eps, weightDecay } = options;
  const correction1 = 1 - beta1 ** step;
  const correction2 = 1 - beta2 ** step;
  for (const { params, grads, m, v, decay } of slots) {
    const shrink = decay ? 1 - lr * weightDecay : 1;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * g;
      const vi = beta2 * v[i]! + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i]! * shrink - (lr * (mi / correction1)) / (Math.sqrt(vi / correction2) + eps);
    }
  }
}

/** Scales `grads` so their global L2 norm is at most maxNorm (torch's clip_grad_norm_); returns the norm before. */
export function clipGradients(grads: Float32Array, maxNorm: number): number {
  let squares = 0;
  for (let i = 0; i < grads.length; i++) squares += grads[i]! * grads[i]!;
  const norm = Math.sqrt(squares);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) for (let i = 0; i < grads.length; i++) grads[i] = grads[i]! * scale;
  return norm;
}
