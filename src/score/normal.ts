/**
 * The standard normal distribution: density, CDF and quantile, accurate to about 1e-15 (relative in the tails),
 * so the intervals and p-values built on them do not carry approximation error of their own.
 */

const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** φ(x), the standard normal density. */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / SQRT_2PI;
}

/**
 * Φ(x), the standard normal CDF.
 * Centre (|x| < 3): Marsaglia's series Φ(x) = ½ + φ(x)·(x + x³/3 + x⁵/(3·5) + …), all terms of one sign so nothing
 * cancels (Marsaglia 2004, "Evaluating the normal distribution", J. Stat. Softw. 11(4)).
 * Tails: the upper tail Q(x) = φ(x)/(x + 1/(x + 2/(x + 3/(x + …)))) (Laplace's continued fraction for Mills' ratio),
 * evaluated by the modified Lentz method (Press et al. 2007, Numerical Recipes, 3rd ed., §5.2), which keeps full
 * relative accuracy far into the tail where 1 − Φ would round to 0.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 3) {
    let term = x;
    let sum = x;
    for (let k = 1; k < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
      term *= (x * x) / (2 * k + 1);
      sum += term;
    }
    return 0.5 + normalPdf(x) * sum;
  }
  const tail = upperTail(Math.abs(x));
  return x > 0 ? 1 - tail : tail;
}

/** Q(x) = 1 − Φ(x) for x ≥ 3 by the continued fraction of Mills' ratio. */
function upperTail(x: number): number {
  if (x === Infinity) return 0;
  const tiny = 1e-300;
  // Q(x)/φ(x) = 1/(x + 1/(x + 2/(x + 3/(x + …)))): b0 = x, a_k = k, b_k = x.
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    d = x + k * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + k / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return normalPdf(x) / f;
}

/**
 * Φ⁻¹(p), the standard normal quantile: Acklam's rational approximation (relative error < 1.15e-9; P. J. Acklam 2003,
 * "An algorithm for computing the inverse normal cumulative distribution function"), then one Halley step on the
 * accurate CDF above, which brings it to full double precision.
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const x = acklam(p);
  // Φ(x) − p, taken in the tail that p is in: for p > ½, (1 − p) is exact and 1 − Φ(x) = Φ(−x) keeps its precision.
  const e = p > 0.5 ? 1 - p - normalCdf(-x) : normalCdf(x) - p;
  const u = e * SQRT_2PI * Math.exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239] as const;
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1] as const;
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416] as const;
const P_LOW = 0.02425;

function acklam(p: number): number {
  if (p < P_LOW || p > 1 - P_LOW) {
    // Tails: rational function of q = √(−2 ln p) (of the smaller tail), odd-symmetric.
    const q = Math.sqrt(-2 * Math.log(p < P_LOW ? p : 1 - p));
    const x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
    return p < P_LOW ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
}

/** The two-sided critical value z_{1−(1−level)/2} of a `level` interval (1.959964 for 0.95). */
export function twoSidedZ(level: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`a confidence level is between 0 and 1 (exclusive), not ${level}`);
  return normalQuantile(1 - (1 - level) / 2);
}

/** Two-sided p-value of a standard normal statistic z: 2·(1 − Φ(|z|)), computed in the tail so it stays accurate. */
export function twoSidedP(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return Math.min(1, 2 * normalCdf(-Math.abs(z)));
}
