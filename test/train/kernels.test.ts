import { describe, expect, it } from "vitest";
import { seededRng } from "../../src/merge/rng.ts";
import { Kernels, transpose } from "../../src/train/kernels.ts";

function naive(m: number, k: number, n: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, transposedA: boolean): Float64Array {
  const out = new Float64Array(m * n);
  const at = (i: number, p: number) => (transposedA ? a[p * lda + i]! : a[i * lda + p]!);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += at(i, p) * b[p * ldb + j]!;
  return out;
}

describe("the wasm gemm kernel", () => {
  const kernels = new Kernels();
  const rng = seededRng("kernels-test");
  const fill = (x: Float32Array) => x.forEach((_, i) => (x[i] = rng.next() * 2 - 1));

  const SIZES = [[1, 1, 1], [3, 5, 7], [4, 8, 8], [5, 16, 12], [9, 3, 262], [130, 64, 128], [7, 0, 8], [0, 4, 8]];
  it.each([...SIZES.map((s) => [...s, false]), ...SIZES.map((s) => [...s, true])] as [number, number, number, boolean][])("matches a naive product for m %i, k %i, n %i (A transposed: %s), with strides and accumulation", (m, k, n, transposedA) => {
    const [lda, ldb, ldc] = [(transposedA ? m : k) + 3, n + 5, n + 2];
    const a = kernels.alloc(Math.max(1, (transposedA ? k : m) * lda));
    const b = kernels.alloc(Math.max(1, k * ldb));
    const c = kernels.alloc(Math.max(1, m * ldc));
    fill(a);
    fill(b);
    fill(c);
    const before = Float32Array.from(c);
    const gemm = (transposedA ? kernels.gemmTA : kernels.gemm).bind(kernels);
    gemm(m, k, n, a, lda, b, ldb, c, ldc, true);
    const expected = naive(m, k, n, a, lda, b, ldb, transposedA);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < ldc; j++) {
        const want = j < n ? before[i * ldc + j]! + expected[i * n + j]! : before[i * ldc + j]!; // padding untouched
        expect(Math.abs(c[i * ldc + j]! - want)).toBeLessThan(1e-5 * (1 + k));
      }
    }
    gemm(m, k, n, a, lda, b, ldb, c, ldc);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) expect(Math.abs(c[i * ldc + j]! - expected[i * n + j]!)).toBeLessThan(1e-5 * (1 + k));
  });

  it("refuses buffers outside its memory, and views stay valid as memory grows", () => {
    const first = kernels.alloc(4);
    first.set([1, 2, 3, 4]);
    kernels.alloc(5_000_000);
    expect([...first]).toEqual([1, 2, 3, 4]);
    expect(() => kernels.gemm(1, 1, 4, new Float32Array(1), 1, first, 4, first, 4)).toThrow(/not in this engine's memory/);
    const other = new Kernels();
    other.alloc(5_000_000); // another memory growing renews the buffer objects of every shared memory in V8
    const out = kernels.alloc(4);
    kernels.gemm(1, 1, 4, first, 1, first, 4, out, 4);
    expect([...out]).toEqual([1, 2, 3, 4]);
    expect(() => kernels.gemm(1, 1, 4, other.alloc(1), 1, first, 4, out, 4)).toThrow(/not in this engine's memory/);
  });

  it("transposes with a row stride", () => {
    const x = Float32Array.from([1, 2, 3, 0, 4, 5, 6, 0]);
    const out = new Float32Array(6);
    transpose(x, 2, 3, 4, out);
    expect([...out]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

describe("the wasm elementwise kernels", () => {
  const kernels = new Kernels();
  const rng = seededRng("elementwise-test");

  it("softmaxCausal: each row's softmax over its first t + 1 entries, zeros after, to float32 precision", () => {
    const [T, count, scale] = [12, 3, 0.37];
    const scores = kernels.alloc(count * T * T);
    scores.forEach((_, i) => (scores[i] = (rng.next() - 0.5) * 40));
    scores[1 * T + 2] = Number.NaN; // beyond row 1's entries: must not leak in
    const before = Float64Array.from(scores);
    kernels.softmaxCausal(scores, T, count, scale);
    for (let row = 0; row < count * T; row++) {
      const t = row % T;
      const raw = Array.from(before.subarray(row * T, row * T + t + 1));
      const max = Math.max(...raw);
      const exps = raw.map((x) => Math.exp(scale * (x - max)));
      const sum = exps.reduce((a, b) => a + b, 0);
      for (let s = 0; s < T; s++) {
        const got = scores[row * T + s]!;
        if (s > t) expect(got).toBe(0);
        else expect(Math.abs(got - exps[s]! / sum)).toBeLessThan(3e-7);
      }
    }
  });

  it("softmaxCausalBackward: scale · p ⊙ (dp − rowsum(p ⊙ dp)) on and below the diagonal, zeros above", () => {
    const [T, scale] = [12, 0.37];
    const p = kernels.alloc(T * T);
    const dp = kernels.alloc(T * T);
    p.forEach((_, i) => (p[i] = rng.next() - 0.5)); // not a softmax: every entry must come from the formula
    dp.forEach((_, i) => (dp[i] = rng.next() - 0.5));
    dp[1 * T + 2] = Number.NaN; // past row 1's diagonal: must not leak in
    const [pBefore, dpBefore] = [Float64Array.from(p), Float64Array.from(dp)];
    kernels.softmaxCausalBackward(p, dp, T, scale);
    for (let t = 0; t < T; t++) {
      let dot = 0;
      for (let s = 0; s <= t; s++) dot += pBefore[t * T + s]! * dpBefore[t * T + s]!;
      for (let s = 0; s < T; s++) {
        const want = s > t ? 0 : scale * pBefore[t * T + s]! * (dpBefore[t * T + s]! - dot);
        expect(Math.abs(dp[t * T + s]! - want)).toBeLessThan(1e-6);
      }
    }
  });

  it("SwiGLU forward and backward against float64 formulas, across the exponential's range", () => {
    const n = 4096;
    const [gate, up, sigmoid, act, dact, dgate, dup] = Array.from({ length: 7 }, () => kernels.alloc(n)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    for (let i = 0; i < n; i++) {
      gate[i] = (i / n - 0.5) * 240; // ±120: past where e^x leaves float32
      up[i] = rng.next() - 0.5;
      dact[i] = rng.next() - 0.5;
    }
    kernels.swigluForward(gate, up, sigmoid, act, n);
    kernels.swigluBackward(dact, gate, up, sigmoid, dgate, dup, n);
    for (let i = 0; i < n; i++) {
      const g = gate[i]!;
      const s = 1 / (1 + Math.exp(-g));
      const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      close(sigmoid[i]!, s);
      close(act[i]!, g * s * up[i]!);
      close(dup[i]!, dact[i]! * g * s);
      close(dgate[i]!, dact[i]! * up[i]! * s * (1 + g * (1 - s)));
    }
  });

  it("refuses lengths that are not whole vectors", () => {
    const x = kernels.alloc(8);
    expect(() => kernels.swigluForward(x, x, x, x, 6)).toThrow(/multiple of 4/);
    expect(() => kernels.softmaxCausal(x, 2, 1, 1)).toThrow(/multiple of 4/);
  });
});
