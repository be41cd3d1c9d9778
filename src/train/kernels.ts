import { threadId } from "node:worker_threads";
import { assembleModule } from "../util/wasm-assembler.ts";
import { softmaxBackwardFunction, softmaxFunction } from "./wasm/softmax.ts";
import { swigluBackwardFunction, swigluForwardFunction } from "./wasm/swiglu.ts";
import { gemmFunction } from "./wasm/gemm.ts";
import { PAGE_BYTES, wasm, type WasmMemory } from "./wasm/runtime.ts";

/** 1 GiB: far above what the family needs (≈ 60 MB at batch 16 × 128), and only reserved, not committed. */
const MAX_PAGES = 16384;

let compiled: object | undefined;
let engines = 0;

type GemmExport = (a: number, lda: number, b: number, ldb: number, c: number, ldc: number, m: number, k: number, n: number, accumulate: number) => void;
interface ElementwiseExports {
  softmaxCausal: (p: number, seqLen: number, count: number, scale: number) => void;
  softmaxCausalBackward: (p: number, dp: number, seqLen: number, scale: number) => void;
  swigluForward: (gate: number, up: number, sigmoid: number, act: number, length: number) => void;
  swigluBackward: (dact: number, gate: number, up: number, sigmoid: number, dgate: number, dup: number, length: number) => void;
}

/**
 * One training engine's memory and its kernels. Every buffer a kernel reads or writes is a Float32Array
 * allocated here, inside one shared WebAssembly memory: shared so that growing it never detaches the views
 * already handed out.
 */
export class Kernels {
  private readonly memory: WasmMemory;
  private readonly gemmExport: GemmExport;
  private readonly gemmTAExport: GemmExport;
  private readonly elementwise: ElementwiseExports;
  /**
   * Written in the memory's first word, to tell its views from any other Float32Array: the SharedArrayBuffer
   * objects of one shared memory are not stable (V8 hands out new ones after any memory grows).
   */
  private readonly id = threadId * 65536 + ++engines;
  private used = 16;

  constructor() {
    this.memory = new wasm.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    compiled ??= new wasm.Module(assembleModule([gemmFunction(false), gemmFunction(true), softmaxFunction(), softmaxBackwardFunction(), swigluForwardFunction(), swigluBackwardFunction()], MAX_PAGES));
    const instance = new wasm.Instance(compiled, { env: { memory: this.memory } });
    this.gemmExport = instance.exports.gemm as GemmExport;
    this.gemmTAExport = instance.exports.gemmTA as GemmExport;
    this.elementwise = instance.exports as unknown as ElementwiseExports;
    new Int32Array(this.memory.buffer, 0, 1)[0] = this.id;
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

  /**
   * In place, for `count` consecutive [seqLen × seqLen] score matrices: row t becomes softmax(scale · row[0..t])
   * then zeros (causal attention). Exponentials to float32 precision (Cephes' expf on f32x4 lanes).
   */
  softmaxCausal(scores: Float32Array, seqLen: number, count: number, scale: number): void {
    this.check([scores], seqLen, "softmaxCausal: seqLen");
    if (scores.length < count * seqLen * seqLen) throw new Error("softmaxCausal: the scores are shorter than count squares");
    this.elementwise.softmaxCausal(scores.byteOffset, seqLen, count, scale);
  }

  /**
   * In place on one [seqLen × seqLen] dp: the scores' gradient from that of softmaxCausal's output p, that is
   * scale · p ⊙ (dp − rowsum(p ⊙ dp)) on and below the diagonal, zero above.
   */
  softmaxCausalBackward(p: Float32Array, dp: Float32Array, seqLen: number, scale: number): void {
    this.check([p, dp], seqLen, "softmaxCausalBackward: seqLen");
    if (p.length < seqLen * seqLen || dp.length < seqLen * seqLen) throw new Error("softmaxCausalBackward: a buffer is shorter than seqLen²");
    this.elementwise.softmaxCausalBackward(p.byteOffset, dp.byteOffset, seqLen, scale);
  }

  /** sigmoid = σ(gate), act = silu(gate) · up, over the first `length` elements. */
  swigluForward(gate: Float32Array, up: Float32Array, sigmoid: Float32Array, act: Float32Array, length: number): void {
    this.check([gate, up, sigmoid, act], length, "swigluForward: length");
    this.elementwise.swigluForward(gate.byteOffset, up.byteOffset, sigmoid.byteOffset, act.byteOffset, length);
  }

  /** dgate = dact · up · σ(g)(1 + g(1 − σ(g))), dup = dact · silu(g), given σ(gate) from the forward pass. */
  swigluBackward(dact: Float32Array, gate: Float32Array, up: Float32Array, sigmoid: Float32Array, dgate: Float32Array, dup: Float32Array, length: number): void {
    this.check([dact, gate, up, sigmoid, dgate, dup], length, "swigluBackward: length");
    this.elementwise.swigluBackward(dact.byteOffset, gate.byteOffset, up.byteOffset, sigmoid.byteOffset, dgate.byteOffset, dup.byteOffset, length);
  }

  private owns(x: Float32Array): boolean {
    return x.buffer instanceof SharedArrayBuffer && new Int32Array(x.buffer, 0, 1)[0] === this.id;
  }

  /** The vector kernels need buffers of this memory and whole f32x4 vectors. */
  private check(buffers: Float32Array[], multipleOf4: number, what: string): void {
    for (const x of buffers) if (!this.owns(x)) throw new Error(`${what.split(":")[0]}: a buffer is not in this engine's memory`);
    if (multipleOf4 % 4 !== 0) throw new Error(`${what} ${multipleOf4} is not a multiple of 4`);
  }

  private run(kernel: GemmExport, transposedA: boolean, m: number, k: number, n: number, a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number, accumulate: boolean): void {
    for (const x of [a, b, c]) if (!this.owns(x)) throw new Error("gemm: a buffer is not in this engine's memory");
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
