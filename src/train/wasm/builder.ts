import { F32, I32, op, V128, type Code } from "../../util/wasm-assembler.ts";

/** Local variables numbered after the parameters: a fixed pool per type, handed out in order. */
export class Locals {
  private readonly next = { [I32]: 0, [F32]: 0, [V128]: 0 };
  private static readonly POOL = 16;

  constructor(private readonly params: number) {}

  take(type: typeof I32 | typeof F32 | typeof V128): number {
    const base = this.params + { [I32]: 0, [F32]: 1, [V128]: 2 }[type] * Locals.POOL;
    if (this.next[type] === Locals.POOL) throw new Error("wasm: local pool exhausted");
    return base + this.next[type]++;
  }

  declarations(): [number, number][] {
    return [[Locals.POOL, I32], [Locals.POOL, F32], [Locals.POOL, V128]];
  }
}

/** The four lanes of a vector local combined pairwise, (0 ∘ 1) ∘ (2 ∘ 3): a fixed order. */
export const lanes = (vector: number, combine: Code): Code => [
  ...op.get(vector), ...op.f32x4ExtractLane(0), ...op.get(vector), ...op.f32x4ExtractLane(1), ...combine,
  ...op.get(vector), ...op.f32x4ExtractLane(2), ...op.get(vector), ...op.f32x4ExtractLane(3), ...combine, ...combine,
];
