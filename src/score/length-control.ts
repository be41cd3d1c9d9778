/** The raw and the length-controlled win rate, in %, and the fitted length slope. */
export interface LengthControlledWinRate {
  /** 100 · mean preference (ties ½). */
  winRate: number;
  /** 100 · σ(θ): the fitted win rate at equal length. */
  lengthControlled: number;
  /** φ: the slope on tanh(lengthDiff / sd); positive = the judge favours the longer answer. 0 when the term is dropped. */
  lengthCoefficient: number;
}

const RIDGE = 1e-8;
const MAX_ITERATIONS = 200;

/**
 * Length-controlled win rate, after AlpacaEval 2 (Dubois, Galambosi, Liang & Hashimoto 2024, "Length-Controlled
 * AlpacaEval: A Simple Way to Debias Automatic Evaluators", arXiv:2404.04475): judges prefer longer answers, so a
 * model can gain win rate by talking more. Fit the preference as a logistic function of the length difference and
 * read off the win rate the fit predicts at equal length.
 *
 * The model here is logit P(win) = θ + φ·tanh(lengthDiff / sd(lengthDiff)), with lengthDiff = candidate length −
 * baseline length in characters and sd the sample standard deviation (n − 1), as in AlpacaEval's own feature
 * (tanh(std_delta_len)). AlpacaEval 2 also has a per-instruction difficulty term and regularises towards gamed
 * baselines; both are left out: one candidate against one baseline, intercept and length slope only.
 * Preferences are in [0, 1] with ties as ½, so the fit is a fractional-response (quasi-binomial) logistic regression
 * (Papke & Wooldridge 1996, "Econometric methods for fractional response variables…", J. Appl. Econometrics 11(6)),
 * solved by Newton's method on the binomial quasi-likelihood with step halving. A tiny ridge (λ = 1e-8 on θ and φ)
 * keeps the estimate finite under separation (e.g. every comparison won); iterations are capped.
 * With every lengthDiff equal (sd 0) or a single item there is no length to control for: the length term is dropped,
 * the intercept-only fit is θ = logit(mean), and the length-controlled rate is the raw one exactly.
 */
export function lengthControlledWinRate(items: readonly { value: number; lengthDiff: number }[]): LengthControlledWinRate {
  const n = items.length;
  if (n === 0) return { winRate: NaN, lengthControlled: NaN, lengthCoefficient: NaN };
  const y = items.map((item) => item.value);
  const winRate = (100 * y.reduce((sum, v) => sum + v, 0)) / n;
  const sd = sampleSd(items.map((item) => item.lengthDiff));
  // No variation in length: nothing to control for, and the intercept-only fit is θ = logit(mean) exactly.
  if (!(sd > 0)) return { winRate, lengthControlled: winRate, lengthCoefficient: 0 };
  const { theta, phi } = fitLogistic(y, items.map((item) => Math.tanh(item.lengthDiff / sd)));
  return { winRate, lengthControlled: 100 * sigmoid(theta), lengthCoefficient: phi };
}

/** Newton's method on the ridge-penalised binomial quasi-log-likelihood of logit μ = θ + φx. */
function fitLogistic(y: readonly number[], x: readonly number[]): { theta: number; phi: number } {
  let theta = 0;
  let phi = 0;
  let current = objective(y, x, theta, phi);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    let gTheta = -RIDGE * theta;
    let gPhi = -RIDGE * phi;
    let hThetaTheta = RIDGE;
    let hThetaPhi = 0;
    let hPhiPhi = RIDGE;
    for (let i = 0; i < y.length; i++) {
      const mu = sigmoid(theta + phi * x[i]!);
      const w = mu * (1 - mu);
      gTheta += y[i]! - mu;
      gPhi += x[i]! * (y[i]! - mu);
      hThetaTheta += w;
      hThetaPhi += w * x[i]!;
      hPhiPhi += w * x[i]! * x[i]!;
    }
    // Solve the 2×2 system (the information matrix is positive definite thanks to the ridge).
    const det = hThetaTheta * hPhiPhi - hThetaPhi * hThetaPhi;
    const stepTheta = (hPhiPhi * gTheta - hThetaPhi * gPhi) / det;
    const stepPhi = (hThetaTheta * gPhi - hThetaPhi * gTheta) / det;
    // Step halving: never accept a step that lowers the penalised quasi-likelihood.
    let scale = 1;
    let next = objective(y, x, theta + stepTheta, phi + stepPhi);
    while (next < current && scale > 1e-10) {
      scale /= 2;
      next = objective(y, x, theta + scale * stepTheta, phi + scale * stepPhi);
    }
    theta += scale * stepTheta;
    phi += scale * stepPhi;
    current = next;
    if (Math.max(Math.abs(scale * stepTheta), Math.abs(scale * stepPhi)) < 1e-12) break;
  }
  return { theta, phi };
}

/** Σ [y·log σ(η) + (1 − y)·log σ(−η)] − λ(θ² + φ²)/2. */
function objective(y: readonly number[], x: readonly number[], theta: number, phi: number): number {
  let sum = (-RIDGE * (theta * theta + phi * phi)) / 2;
  for (let i = 0; i < y.length; i++) {
    const eta = theta + phi * x[i]!;
    sum += y[i]! * logSigmoid(eta) + (1 - y[i]!) * logSigmoid(-eta);
  }
  return sum;
}

function sigmoid(eta: number): number {
  return eta >= 0 ? 1 / (1 + Math.exp(-eta)) : Math.exp(eta) / (1 + Math.exp(eta));
}

/** log σ(η) without overflow or loss of precision for large |η|. */
function logSigmoid(eta: number): number {
  return eta >= 0 ? -Math.log1p(Math.exp(-eta)) : eta - Math.log1p(Math.exp(eta));
}

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
function sampleSd(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  return Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1));
}
