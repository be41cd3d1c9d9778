import { createHash } from "node:crypto";

/** A seeded stream of uniform numbers in [0, 1). */
export interface Rng {
  next(): number;
}

/**
 * xoshiro128** seeded from SHA-256 of the given parts. Each tensor (and each model within it) gets its own
 * stream from (seed, tensor name, model position), so DARE masks do not depend on merge order or threads.
 */
export function seededRng(...parts: (string | number)[]): Rng {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  let a = digest.readUInt32LE(0);
  let b = digest.readUInt32LE(4);
  let c = digest.readUInt32LE(8);
  let d = digest.readUInt32LE(12);
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is the one xoshiro cannot leave
  return {
    next(): number {
      const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
      return result / 4294967296;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
