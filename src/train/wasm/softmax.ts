import { F32, I32, increment, op, V128, whileNot, type Code, type WasmFunction } from "../../util/wasm-assembler.ts";
import { lanes, Locals } from "./builder.ts";
import { vectorExp } from "./vector-exp.ts";

/**
 * Attention's causal softmax on f32x4 lanes, both ways. Rows are whole vectors (seqLen a multiple of 4); row t
 * reads only its first t + 1 entries: a lane mask keeps the rest of its last vector out of every sum.
 */

/**
 * softmaxCausal(p, seqLen, count, scale): for `count` consecutive [seqLen × seqLen] score matrices at p, row t
 * becomes softmax(scale · row[0..t]) followed by zeros. Only the first t + 1 entries are read: a lane mask
 * keeps the rest of the row's last vector out of the maximum and the sum.
 */
export function softmaxFunction(): WasmFunction {
  const [P, T, COUNT, SCALE] = [0, 1, 2, 3];
  const locals = new Locals(4);
  const int = () => locals.take(I32);
  const vector = () => locals.take(V128);
  const [row, rowBytes, square, t, n, vectors, i, at, rowVectors] = [int(), int(), int(), int(), int(), int(), int(), int(), int()];
  const [max, total] = [locals.take(F32), locals.take(F32)];
  const [best, mask, sum, shift, scale, e] = [vector(), vector(), vector(), vector(), vector(), vector()];
  const expOfScaled = vectorExp([...op.get(at), ...op.vLoad(0), ...op.get(shift), ...op.f32x4Sub, ...op.get(scale), ...op.f32x4Mul], locals);
  // Lanes of vector i that hold entries 0..t: lane < n − 4i.
  const setMask: Code = [...op.vLaneIndex, ...op.get(n), ...op.get(i), ...op.i32(2), ...op.shl, ...op.sub, ...op.i32x4Splat, ...op.i32x4LtS, ...op.set(mask)];
  const overVectors = (body: Code): Code => [...op.i32(0), ...op.set(i), ...op.get(row), ...op.set(at), ...whileNot([...op.get(i), ...op.get(vectors), ...op.geS], [...body, ...increment(at, 16), ...increment(i, 1)])];

  const perRow: Code = [
    ...op.get(t), ...op.i32(1), ...op.add, ...op.set(n),
    ...op.get(n), ...op.i32(3), ...op.add, ...op.i32(2), ...op.shrU, ...op.set(vectors),
    ...op.vSplatConst(-Infinity), ...op.set(best),
    ...overVectors([...setMask, ...op.get(best), ...op.get(at), ...op.vLoad(0), ...op.vSplatConst(-Infinity), ...op.get(mask), ...op.vBitselect, ...op.f32x4Max, ...op.set(best)]),
    ...lanes(best, op.f32Max), ...op.set(max),
    ...op.get(max), ...op.f32x4Splat, ...op.set(shift),
    ...op.vZero, ...op.set(sum),
    // e^(scale · (score − max)), zero outside the mask, stored and summed.
    ...overVectors([...setMask, ...expOfScaled, ...op.get(mask), ...op.vAnd, ...op.set(e), ...op.get(at), ...op.get(e), ...op.vStore(0), ...op.get(sum), ...op.get(e), ...op.f32x4Add, ...op.set(sum)]),
    ...lanes(sum, op.f32Add), ...op.set(total),
    ...op.f32Const(1), ...op.get(total), ...op.f32Div, ...op.f32x4Splat, ...op.set(e),
    ...overVectors([...op.get(at), ...op.get(at), ...op.vLoad(0), ...op.get(e), ...op.f32x4Mul, ...op.vStore(0)]),
    // The rest of the row, from vector `vectors` on, is zero.
    ...whileNot([...op.get(i), ...op.get(rowVectors), ...op.geS], [...op.get(at), ...op.vZero, ...op.vStore(0), ...increment(at, 16), ...increment(i, 1)]),
  ];
  const body: Code = [
    ...op.get(T), ...op.i32(2), ...op.shl, ...op.set(rowBytes),
    ...op.get(T), ...op.i32(2), ...op.shrU, ...op.set(rowVectors),
    ...op.get(SCALE), ...op.f32x4Splat, ...op.set(scale),
    ...op.get(P), ...op.set(row),
    ...op.i32(0), ...op.set(square),
    ...whileNot([...op.get(square), ...op.get(COUNT), ...op.geS], [
      ...op.i32(0), ...op.set(t),
      ...whileNot([...op.get(t), ...op.get(T), ...op.geS], [...perRow, ...op.get(row), ...op.get(rowBytes), ...op.add, ...op.set(row), ...increment(t, 1)]),
      ...increment(square, 1),
    ]),
  ];
  return { name: "softmaxCausal", params: [I32, I32, I32, F32], locals: locals.declarations(), body };
}

/**
 * softmaxCausalBackward(p, dp, seqLen, scale): in place on one [seqLen × seqLen] dp, the gradient of the scores
 * from that of softmaxCausal's output p: row t becomes scale · p ⊙ (dp − Σ p ⊙ dp) over entries 0..t, then zeros.
 */
export function softmaxBackwardFunction(): WasmFunction {
  const [P, DP, T, SCALE] = [0, 1, 2, 3];
  const locals = new Locals(4);
  const int = () => locals.take(I32);
  const vector = () => locals.take(V128);
  const [rowP, rowD, rowBytes, t, n, vectors, i, at, rowVectors] = [int(), int(), int(), int(), int(), int(), int(), int(), int()];
  const [mask, sum, dot, scale] = [vector(), vector(), vector(), vector()];
  const setMask: Code = [...op.vLaneIndex, ...op.get(n), ...op.get(i), ...op.i32(2), ...op.shl, ...op.sub, ...op.i32x4Splat, ...op.i32x4LtS, ...op.set(mask)];
  const overVectors = (body: Code): Code => [...op.i32(0), ...op.set(i), ...op.i32(0), ...op.set(at), ...whileNot([...op.get(i), ...op.get(vectors), ...op.geS], [...body, ...increment(at, 16), ...increment(i, 1)])];
  const load = (row: number): Code => [...op.get(row), ...op.get(at), ...op.add, ...op.vLoad(0)];
  const perRow: Code = [
    ...op.get(t), ...op.i32(1), ...op.add, ...op.set(n),
    ...op.get(n), ...op.i32(3), ...op.add, ...op.i32(2), ...op.shrU, ...op.set(vectors),
    ...op.vZero, ...op.set(sum),
    ...overVectors([...setMask, ...op.get(sum), ...load(rowP), ...load(rowD), ...op.f32x4Mul, ...op.get(mask), ...op.vAnd, ...op.f32x4Add, ...op.set(sum)]),
    ...lanes(sum, op.f32Add), ...op.f32x4Splat, ...op.set(dot),
    ...overVectors([
      ...setMask, ...op.get(rowD), ...op.get(at), ...op.add,
      ...load(rowP), ...load(rowD), ...op.get(dot), ...op.f32x4Sub, ...op.f32x4Mul, ...op.get(scale), ...op.f32x4Mul, ...op.get(mask), ...op.vAnd,
      ...op.vStore(0),
    ]),
    ...whileNot([...op.get(i), ...op.get(rowVectors), ...op.geS], [...op.get(rowD), ...op.get(at), ...op.add, ...op.vZero, ...op.vStore(0), ...increment(at, 16), ...increment(i, 1)]),
  ];
  const body: Code = [
    ...op.get(T), ...op.i32(2), ...op.shl, ...op.set(rowBytes),
    ...op.get(T), ...op.i32(2), ...op.shrU, ...op.set(rowVectors),
    ...op.get(SCALE), ...op.f32x4Splat, ...op.set(scale),
    ...op.get(P), ...op.set(rowP),
    ...op.get(DP), ...op.set(rowD),
    ...op.i32(0), ...op.set(t),
    ...whileNot([...op.get(t), ...op.get(T), ...op.geS], [...perRow, ...op.get(rowP), ...op.get(rowBytes), ...op.add, ...op.set(rowP), ...op.get(rowD), ...op.get(rowBytes), ...op.add, ...op.set(rowD), ...increment(t, 1)]),
  ];
  return { name: "softmaxCausalBackward", params: [I32, I32, I32, F32], locals: locals.declarations(), body };
}
