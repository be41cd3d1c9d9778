import { createHash } from "node:crypto";

/** A seeded random stream: uniform floats in [0, 1), or blocks of uniform 32-bit integers. */
export interface Rng {
  next(): number;
  /** Fills `out` with uniform integers in [0, 2^32); the same stream as next() · 2^32. */
  fillUint32(out: Uint32Array): void;
  /** The xoshiro128** state words, for kernels that continue the same stream (and write the state back). */
  readonly state: Uint32Array;
}

/**
 * xoshiro128** seeded from SHA-256 of the given parts. Each tensor (and each model within it) gets its own
 * stream from (seed, tensor name, model position), so DARE masks do not depend on merge order or threads.
 */
export function seededRng(...parts: (string | number)[]): Rng {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  const state = new Uint32Array([digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12)]);
  if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1; // the all-zero state is the one xoshiro cannot leave
  const one = new Uint32Array(1);
  const rng: Rng = {
    state,
    next() {
      rng.fillUint32(one);
      return one[0]! / 4294967296;
    },
    fillUint32(out) {
      // State in locals for the loop: one call per block, not per number.
      let a = state[0]!;
      let b = state[1]!;
      let c = state[2]!;
      let d = state[3]!;
      for (let i = 0; i < out.length; i++) {
        out[i] = Math.imul(rotl(Math.imul(b, 5), 7), 9);
        const t = b << 9;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t;
        d = rotl(d, 11);
      }
      state[0] = a;
      state[1] = b;
      state[2] = c;
      state[3] = d;
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
