import { describe, expect, it } from "vitest";
import { createWorkingMemory, installKernels, SCRATCH_BYTES } from "../../src/merge/kernels/runtime.ts";
import { keepAbsRankRange, selectAbsRank } from "../../src/merge/math/rank.ts";
import { dropRandom, l1Norm } from "../../src/merge/math/sparsify.ts";
import { getMethod } from "../../src/merge/methods/registry.ts";
import type { ParamValue } from "../../src/merge/methods/types.ts";
import { seededRng } from "../../src/merge/rng.ts";
import { encodeInPlace, hasNonFinite, widenInPlace } from "../../src/merge/safetensors/dtype.ts";

/**
 * The SIMD kernels against the scalar code they replace, bit for bit: the same function runs once on an array
 * in the kernels' working memory (kernel path) and once on a plain copy (scalar path).
 */
const memory = createWorkingMemory(64 << 20, 1)!;
installKernels(memory, 0);
let used = SCRATCH_BYTES;
/** A Float32Array in the working memory (so the kernels take it), 64-byte aligned. */
function inMemory(length: number): Float32Array {
  const at = used;
  used += Math.ceil((length * 4) / 64) * 64;
  if (used > memory.buffer.byteLength) used = SCRATCH_BYTES;
  return new Float32Array(memory.buffer, at, length);
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Float32 bit patterns: random ones, every exponent, and the edges of float16 and bfloat16 rounding. */
function awkwardBits(count: number): Uint32Array {
  const next = xorshift(12345);
  const special = [
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fffffff, 0x00000001, 0x807fffff,
    0x477fefff, 0x477ff000, 0x477ff001, 0x47800000, 0x477fffff, 0x38800000, 0x387fffff, 0x33000000, 0x33000001, 0x32ffffff, 0x3f808000, 0x3f818000,
    0x3f800fff, 0x3f801000, 0x3f801001, 0x3f803000, 0x00008000, 0x7f7f8000, 0x7f7fffff,
  ];
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    if (i < special.length) out[i] = special[i]!;
    else if (i % 4 === 0) out[i] = (next() & 0x8000ffff) | ((next() % 256) << 23) | (next() & 0x7f0000); // low bits near ties
    else if (i % 4 === 1) out[i] = (next() & 0xffffe000) | (i % 3 === 0 ? 0x1000 : 0x0fff); // f16 halfway points
    else if (i % 4 === 2) out[i] = (next() & 0xffff0000) | (i % 3 === 0 ? 0x8000 : 0x7fff); // bf16 halfway points
    else out[i] = next();
  }
  return out;
}

describe("merge kernels (SIMD, in the working memory) match the scalar code bit for bit", () => {
  it.each(["BF16", "F16"] as const)("widen %s: all 65536 values, any count", (dtype) => {
    for (const count of [65536, 65543, 13, 8, 7, 0]) {
      const raw = Uint16Array.from({ length: count }, (_, i) => (i * 40503) & 0xffff);
      const viaKernel = inMemory(count);
      new Uint16Array(viaKernel.buffer, viaKernel.byteOffset + count * 2, count).set(raw);
      const scalar = new Float32Array(count);
      new Uint16Array(scalar.buffer, count * 2, count).set(raw);
      const flagKernel = widenInPlace(viaKernel, count * 2, count, dtype);
      const flagScalar = widenInPlace(scalar, count * 2, count, dtype);
      expect(flagKernel).toBe(flagScalar);
      expect(Buffer.from(new Uint8Array(viaKernel.buffer, viaKernel.byteOffset, count * 4)).equals(Buffer.from(scalar.buffer))).toBe(true);
    }
  });

  it("widen reports non-finite values wherever they are, and only then", () => {
    for (const dtype of ["BF16", "F16"] as const) {
      const inf = dtype === "BF16" ? 0x7f80 : 0x7c00;
      for (const at of [-1, 0, 5, 8, 63, 64, 70]) {
        const count = 71;
        const values = inMemory(count);
        const raw = new Uint16Array(values.buffer, values.byteOffset + count * 2, count);
        raw.fill(0x3c00);
        if (at >= 0) raw[at] = inf;
        expect(widenInPlace(values, count * 2, count, dtype)).toBe(at >= 0);
      }
    }
  });

  it.each(["BF16", "F16"] as const)("encode %s: edge and random float32 values", (dtype) => {
    for (const count of [200_003, 16, 9, 1]) {
      const bits = awkwardBits(count);
      const viaKernel = inMemory(count);
      new Uint32Array(viaKernel.buffer, viaKernel.byteOffset, count).set(bits);
      const scalar = new Float32Array(bits.buffer.slice(0));
      const a = encodeInPlace(viaKernel, dtype);
      const b = encodeInPlace(scalar, dtype);
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    }
  });

  it("hasNonFinite finds NaN and ±Inf at any position", () => {
    const count = 103;
    for (const bad of [0x7f800000, 0xff800000, 0x7fc00000, 0xffffffff, 0x7f800001]) {
      for (const at of [-1, 0, 15, 16, 63, 64, 95, 96, 102]) {
        const values = inMemory(count);
        values.fill(1.5);
        if (at >= 0) new Uint32Array(values.buffer, values.byteOffset, count)[at] = bad;
        expect(hasNonFinite(values)).toBe(at >= 0);
      }
    }
  });

  it("rank selection: same ranks and same kept entries, ties and signed zeros included", () => {
    const next = xorshift(777);
    for (const [count, distinct] of [[100_001, 0], [4099, 7], [50_000, 3], [37, 2], [4096, 1]] as const) {
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) {
        bits[i] = distinct ? ((next() % distinct) * 0x00010001) | (next() & 0x80000000) : next() & 0xbfffffff;
        if (i % 97 === 0) bits[i] = next() & 0x80000000; // ±0
      }
      for (const [lo, hi] of [[count >> 1, count], [0, count >> 2], [count >> 3, count - (count >> 3)], [1, 2], [0, count - 1]] as const) {
        const viaKernel = inMemory(count);
        new Uint32Array(viaKernel.buffer, viaKernel.byteOffset, count).set(bits);
        const scalar = new Float32Array(bits.buffer.slice(0));
        const rank = Math.max(0, Math.min(count - 1, lo));
        expect(selectAbsRank(new Int32Array(viaKernel.buffer, viaKernel.byteOffset, count), rank)).toEqual(selectAbsRank(new Int32Array(scalar.buffer), rank));
        expect(keepAbsRankRange(viaKernel, lo, hi)).toBe(keepAbsRankRange(scalar, lo, hi));
        expect(Buffer.from(new Uint8Array(viaKernel.buffer, viaKernel.byteOffset, count * 4)).equals(Buffer.from(scalar.buffer))).toBe(true);
      }
    }
  });

  it.each([
    ["linear", { normalize: true }, [{ weight: 0.3 }, { weight: 0.7 }]],
    ["linear", { normalize: false }, [{ weight: -1.1 }, { weight: 2.5e-3 }]],
    ["task_arithmetic", { lambda: 0.7 }, [{ weight: 0.5 }, { weight: -1.25 }]],
    ["ties", { normalize: true }, [{ weight: 0.5, density: 1 }, { weight: 0.75, density: 0.5 }]],
    ["ties", { normalize: true }, [{ weight: 1, density: 1 }, { weight: -1, density: 1 }]], // agreeing weights that cancel
    ["ties", { normalize: false, lambda: 1.3 }, [{ weight: 0.4, density: 0.7 }, { weight: 0.9, density: 1 }]],
    ["ties", { normalize: true }, [{ weight: -0.5, density: 1 }, { weight: -0.25, density: 1 }]], // -0 deltas on a -0 base
    ["dare_linear", { rescale: true }, [{ weight: 0.5, density: 0.5 }, { weight: 0.5, density: 0.3 }]], // L1 norms
  ] as const)("%s %j: the element-wise formulas on two models, same bits", (name, global, perModel) => {
    const method = getMethod(name, "test");
    const next = xorshift(4242);
    for (const count of [100_003, 4099, 7, 2]) {
      const finite = (bits: number) => ((bits & 0x7f800000) === 0x7f800000 ? bits & 0x807fffff : bits); // NaN/Inf never reach a method
      const a = awkwardBits(count).map(finite);
      // Equal magnitudes with either sign, zeros of either sign, deltas of zero: the consensus's edges.
      const b = a.map((x, i) => (i % 5 === 0 ? x ^ 0x80000000 : i % 5 === 1 ? x : i % 5 === 2 ? next() & 0x80000000 : finite(next())));
      const base = a.map((x, i) => (i % 7 === 0 ? x : i % 7 === 1 ? 0x80000000 : finite(next() & 0xbfffffff)));
      for (let i = 3; i < count; i += 11) a[i] = b[i] = base[i] = 0x80000000;
      const run = (place: (bits: Uint32Array) => Float32Array) => {
        const models = [place(a), place(b)];
        const merged = method.merge({
          tensor: "t",
          shape: [count],
          base: method.base === "input" ? undefined : place(base),
          models,
          global: { ...defaults(name, "global"), ...global },
          perModel: perModel.map((p) => ({ ...defaults(name, "model"), ...p })),
          rng: (i) => seededRng(1, "t", i),
        });
        return Buffer.from(new Uint8Array(merged.buffer, merged.byteOffset, count * 4));
      };
      const viaKernel = run((bits) => {
        const out = inMemory(count);
        new Uint32Array(out.buffer, out.byteOffset, count).set(bits);
        return out;
      });
      const scalar = run((bits) => new Float32Array(bits.slice().buffer));
      expect(viaKernel.equals(scalar)).toBe(true);
    }
  });
});

describe("DARE's random mask in the working memory", () => {
  it("keeps the same entries, counts the kept L1 as l1Norm does, and leaves the stream where the scalar code does", () => {
    for (const [count, density] of [[100_003, 0.5], [4097, 0.1], [3, 0.9]] as const) {
      const bits = awkwardBits(count).map((x) => ((x & 0x7f800000) === 0x7f800000 ? x & 0x807fffff : x));
      const viaKernel = inMemory(count);
      new Uint32Array(viaKernel.buffer, viaKernel.byteOffset, count).set(bits);
      const scalar = new Float32Array(bits.slice().buffer);
      const [rngKernel, rngScalar] = [seededRng(7, "t", 0), seededRng(7, "t", 0)];
      for (let pass = 0; pass < 2; pass++) {
        const l1 = dropRandom(viaKernel, density, rngKernel, true);
        expect(dropRandom(scalar, density, rngScalar, true)).toBeUndefined(); // not counted off the working memory
        expect(Buffer.from(new Uint8Array(viaKernel.buffer, viaKernel.byteOffset, count * 4)).equals(Buffer.from(scalar.buffer))).toBe(true);
        expect(l1).toBe(l1Norm(scalar));
      }
      expect(rngKernel.next()).toBe(rngScalar.next());
    }
  });
});

function defaults(name: string, scope: "global" | "model"): Record<string, ParamValue> {
  const params = getMethod(name, "test").params;
  return Object.fromEntries(Object.entries(params).flatMap(([key, spec]) => (spec.scope === scope && spec.default !== undefined ? [[key, spec.default]] : [])));
}
