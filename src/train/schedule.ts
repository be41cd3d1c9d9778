/**
 * The learning rate at `step` (1-based) of `steps`: linear warm-up from lr/warmup to lr over warmupSteps, then a
 * cosine from lr down to minLr at the last step.
 */
export function learningRate(step: number, steps: number, lr: number, warmupSteps: number, minLr: number): number {
  if (step <= warmupSteps) return (lr * step) / warmupSteps;
  const decaySteps = steps - warmupSteps;
  if (decaySteps <= 0) return lr;
  const progress = (step - warmupSteps) / decaySteps;
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
