import { encodeBf16, encodeF16, nonFiniteF32, widenBf16, widenF16 } from "./codec.ts";
import { histHigh, histLow, keepBand } from "./rank.ts";
import { dareKeep, linearPair, scale, signElectedPair, sumPair, weightedDelta } from "./task-vector.ts";
import { assembleModule } from "../../util/wasm-assembler.ts";

/**
 * The merge's working memory as one shared WebAssembly memory, so the SIMD kernels run in place on the pieces'
 * float32 values (no copy in or out), on this thread and on workers alike. Layout: a 256 KiB scratch area per
 * thread that runs kernels (their histograms), then the ring of pieces (kernels/arena.ts). The memory never
 * grows, so its buffer object stays the same and views on it stay valid.
 *
 * Code that holds a Float32Array asks kernelsOf(array) for the kernels of the memory it lives in; an array
 * elsewhere (a method's own allocation, a test's) gets undefined and takes the scalar path, which gives the
 * same bits.
 */

interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}

const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export type { WasmMemory };

const PAGE_BYTES = 65536;
/** wasm32 addresses: 4 GiB at most. */
const MAX_PAGES = 65536;
export const SCRATCH_BYTES = 65536 * 4;

export interface KernelExports {
  nonFiniteF32(p: number, count: number): number;
  widenBf16(dst: number, src: number, count: number): number;
  widenF16(dst: number, src: number, count: number): number;
  encodeBf16(p: number, count: number): void;
  encodeF16(p: number, count: number): void;
  histHigh(p: number, count: number, hist: number): void;
  histLow(p: number, count: number, high: number, hist: number): void;
  keepBand(p: number, count: number, a: number, b: number, aLess: number, bLess: number, lo: number, hi: number): void;
  weightedDelta(m: number, b: number, count: number, withL1: number, w: number): number;
  signElectedPair(base: number, x0: number, x1: number, count: number, always: number, w0: number, w1: number, lambda: number): void;
  sumPair(base: number, x0: number, x1: number, count: number, factor: number): void;
  linearPair(out: number, other: number, count: number, w0: number, w1: number): void;
  dareKeep(p: number, count: number, state: number, threshold: number, withL1: number): number;
  scale(p: number, count: number, factor: number): void;
}

export interface Kernels {
  exports: KernelExports;
  /** This thread's histogram, 65536 counters in the memory at `scratch`. */
  histogram: Uint32Array;
  scratch: number;
}

let compiled: object | undefined;
const compile = () =>
  (compiled ??= new wasm!.Module(
    assembleModule([
      nonFiniteF32(), widenBf16(), widenF16(), encodeBf16(), encodeF16(), histHigh(), histLow(), keepBand(),
      weightedDelta(), signElectedPair(), sumPair(), linearPair(), dareKeep(), scale(),
    ], MAX_PAGES),
  ));
const installed = new WeakMap<ArrayBufferLike, Kernels>();

/**
 * A working memory of at least `bytes` bytes after `scratchAreas` scratch areas, or undefined when WebAssembly
 * cannot provide it (too big for 4 GiB, no SIMD): the caller then uses plain buffers and the scalar code.
 */
export function createWorkingMemory(bytes: number, scratchAreas: number): WasmMemory | undefined {
  if (process.env.MERGEVAL_NO_WASM === "1" || !wasm) return undefined;
  const pages = Math.ceil((bytes + scratchAreas * SCRATCH_BYTES) / PAGE_BYTES);
  if (pages > MAX_PAGES) return undefined;
  try {
    compile();
    return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return undefined;
  }
}

/** Instantiates the kernels on `memory` for this thread, with its scratch area number `area`. */
export function installKernels(memory: WasmMemory, area: number): void {
  const instance = new wasm!.Instance(compile(), { env: { memory } });
  const scratch = area * SCRATCH_BYTES;
  installed.set(memory.buffer, { exports: instance.exports as unknown as KernelExports, histogram: new Uint32Array(memory.buffer, scratch, 65536), scratch });
}

/** The kernels of the working memory `view` lies in, on this thread, if any. */
export function kernelsOf(view: ArrayBufferView): Kernels | undefined {
  return installed.get(view.buffer);
}

/** The kernels of the working memory every one of `views` lies in, if they share one, on this thread. */
export function kernelsOfAll(...views: ArrayBufferView[]): Kernels | undefined {
  const kernels = kernelsOf(views[0]!);
  return kernels && views.every((view) => view.buffer === views[0]!.buffer) ? kernels : undefined;
}
