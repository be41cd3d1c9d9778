import { op, V128, type Code } from "../../util/wasm-assembler.ts";
import type { Locals } from "./builder.ts";

// Cephes' expf: e^x = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (ln 2 in two parts, so r is exact), e^r
// by a degree-7 polynomial; relative error about 1e-7, float32's own precision. x is clamped where float32
// would underflow or overflow; NaN stays NaN.
const LOG2E = 1.4426950408889634;
const LN2_HIGH = 0.693359375;
const LN2_LOW = -2.12194440e-4;
const EXP_POLYNOMIAL = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** e^x for the vector that `x` leaves on the stack; leaves the result on the stack. */
export function vectorExp(x: Code, locals: Locals): Code {
  const [clamped, n, r] = [locals.take(V128), locals.take(V128), locals.take(V128)];
  const code: Code = [...x, ...op.vSplatConst(-87.3), ...op.f32x4Max, ...op.vSplatConst(88.3), ...op.f32x4Min, ...op.set(clamped)];
  code.push(...op.get(clamped), ...op.vSplatConst(LOG2E), ...op.f32x4Mul, ...op.f32x4Nearest, ...op.set(n));
  code.push(...op.get(clamped), ...op.get(n), ...op.vSplatConst(LN2_HIGH), ...op.f32x4Mul, ...op.f32x4Sub);
  code.push(...op.get(n), ...op.vSplatConst(LN2_LOW), ...op.f32x4Mul, ...op.f32x4Sub, ...op.set(r));
  code.push(...op.vSplatConst(EXP_POLYNOMIAL[0]!));
  for (const c of EXP_POLYNOMIAL.slice(1)) code.push(...op.get(r), ...op.f32x4Mul, ...op.vSplatConst(c), ...op.f32x4Add);
  code.push(...op.get(r), ...op.f32x4Mul, ...op.get(r), ...op.f32x4Mul, ...op.get(r), ...op.f32x4Add, ...op.vSplatConst(1), ...op.f32x4Add);
  // 2^n as float bits: (n + 127) << 23.
  code.push(...op.get(n), ...op.i32x4TruncSatF32x4S, ...op.i32(127), ...op.i32x4Splat, ...op.i32x4Add, ...op.i32(23), ...op.i32x4Shl, ...op.f32x4Mul);
  return code;
}
