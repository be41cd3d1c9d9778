import { assembleModule } from "./wasm/assemble.ts";
import { gemmFunction } from "./wasm/gemm.ts";
import { PAGE_BYTES, wasm, type WasmMemory } from "./wasm/runtime.ts";

/** 1 GiB: far above what the family needs (≈ 60 MB at batch 16 × 128), and only reserved, not committed. */
const MAX_PAGES = 16384;

let compiled: object | undefined;

type GemmExport = (a: number, lda: number, b: number, ldb: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number) => void;

/**
 * One training engine's memory and its matrix kernel. Every buffer the kernel reads or writes is a Float32Array
 * allocated here, inside one shared WebAssembly memory: shared so that growing it never detaches the views
 * already handed out.
 */
export class Kernels {
  private readonly memory: WasmMemory;
  private readonly gemmExport: GemmExport;
  private readonly gemmTAExport: GemmExport;
  private readonly buffers = new Set<ArrayBufferLike>();
  private used = 0;

  constructor() {
    this.memory = new wasm.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    compiled ??= new wasm.Module(assembleModule([gemmFunction(false), gemmFunction(true)], MAX_PAGES));
    const instance = new wasm.Instance(compiled, { env: { memory: this.memory } });
    this.gemmExport = instance.exports.gemm as GemmExport;
    this.gemmTAExport = instance.exports.gemmTA as GemmExport;
    this.buffers.add(this.memory.buffer);
  }

  /** A zeroed buffer of `length` floats, 16-byte aligned. */
  alloc(length: number): Float32Array {
    const start = this.used;
    this.used = start + Math.ceil((length * 4) / 16) * 16;
    const have = this.memory.buffer.byteLength;
    if (this.used > have) {
      const pages = Math.ceil((this.used - have) / PAGE_BYTES);
      if (have / PAGE_BYTES + pages > MAX_PAGES) throw new Error(`training buffers need more than ${(MAX_PAGES * PAGE_BYTES) / 2 ** 30} GiB`);
      this.memory.grow(pages);
      this.buffers.add(this.memory.buffer);
    }
    return new Float32Array(this.memory.buffer, start, length);
  }

  /**
   * C[m×n] = A[m×k] · B[k×n] (or C += A·B with `accumulate`), row-major with row strides lda, ldb, ldc (in
   * elements); a, b, c are views of this engine's memory starting at each matrix's first element.
   */
  gemm(m: number, k: number, n: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number, accumulate = false): void {
    this.run(this.gemmExport, false, m, k, n, a, lda, b, ldb, c, ldc, accumulate);
  }

  /** As gemm, with A stored transposed: C[m×n] (+)= Aᵀ · B for A [k×m] with row stride lda. */
  gemmTA(m: number, k: number, n: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number, accumulate = false): void {
    this.run(this.gemmTAExport, true, m, k, n, a, lda, b, ldb, c, ldc, accumulate);
  }

  private run(kernel: GemmExport, transposedA: boolean, m: number, k: number, n: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number, accumulate: boolean): void {
    for (const x of [a, b, c]) if (!this.buffers.has(x.buffer)) throw new Error("gemm: a buffer is not in this engine's memory");
    const wide = n & ~3;
    if (wide > 0 && m > 0) kernel(a.byteOffset, lda, b.byteOffset, ldb, c.byteOffset, ldc, m, k, wide, accumulate ? 1 : 0);
    const [rowStep, kStep] = transposedA ? [1, lda] : [lda, 1];
    for (let i = 0; i < m; i++) {
      for (let j = wide; j < n; j++) {
        let sum = accumulate ? c[i * ldc + j]! : 0;
        for (let p = 0; p < k; p++) sum += a[i * rowStep + p * kStep]! * b[p * ldb + j]!;
        c[i * ldc + j] = sum;
      }
    }
  }
}

/** out[cols×rows] = xᵀ for x[rows×cols] with row stride ld (in elements). */
export function transpose(x: Float32Array, rows: number, cols: number, ld: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const row = r * ld;
    for (let c = 0; c < cols; c++) out[c * rows + r] = x[row + c]!;
  }
}
