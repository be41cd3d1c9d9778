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
  });

  it("transposes with a row stride", () => {
    const x = Float32Array.from([1, 2, 3, 0, 4, 5, 6, 0]);
    const out = new Float32Array(6);
    transpose(x, 2, 3, 4, out);
    expect([...out]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
