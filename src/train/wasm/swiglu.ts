import { I32, increment, op, V128, whileNot, type Code, type WasmFunction } from "../../util/wasm-assembler.ts";
import { Locals } from "./builder.ts";
import { vectorExp } from "./vector-exp.ts";

/** swigluForward(gate, up, sigmoid, act, length): sigmoid = σ(gate), act = gate · sigmoid · up. */
export function swigluForwardFunction(): WasmFunction {
  const [GATE, UP, SIGMOID, ACT, LENGTH] = [0, 1, 2, 3, 4];
  const locals = new Locals(5);
  const [at, end] = [locals.take(I32), locals.take(I32)];
  const [g, s] = [locals.take(V128), locals.take(V128)];
  const address = (base: number): Code => [...op.get(base), ...op.get(at), ...op.add];
  const step: Code = [
    ...address(GATE), ...op.vLoad(0), ...op.set(g),
    ...op.vSplatConst(1), ...op.vSplatConst(1), ...vectorExp([...op.vZero, ...op.get(g), ...op.f32x4Sub], locals), ...op.f32x4Add, ...op.f32x4Div, ...op.set(s),
    ...address(SIGMOID), ...op.get(s), ...op.vStore(0),
    ...address(ACT), ...op.get(g), ...op.get(s), ...op.f32x4Mul, ...address(UP), ...op.vLoad(0), ...op.f32x4Mul, ...op.vStore(0),
    ...increment(at, 16),
  ];
  const body: Code = [...op.get(LENGTH), ...op.i32(2), ...op.shl, ...op.set(end), ...op.i32(0), ...op.set(at), ...whileNot([...op.get(at), ...op.get(end), ...op.geS], step)];
  return { name: "swigluForward", params: new Array<number>(5).fill(I32), locals: locals.declarations(), body };
}

/** swigluBackward(dact, gate, up, sigmoid, dgate, dup, length): silu's derivative σ(g)(1 + g(1 − σ(g))). */
export function swigluBackwardFunction(): WasmFunction {
  const [DACT, GATE, UP, SIGMOID, DGATE, DUP, LENGTH] = [0, 1, 2, 3, 4, 5, 6];
  const locals = new Locals(7);
  const [at, end] = [locals.take(I32), locals.take(I32)];
  const [d, g, s] = [locals.take(V128), locals.take(V128), locals.take(V128)];
  const address = (base: number): Code => [...op.get(base), ...op.get(at), ...op.add];
  const step: Code = [
    ...address(DACT), ...op.vLoad(0), ...op.set(d),
    ...address(GATE), ...op.vLoad(0), ...op.set(g),
    ...address(SIGMOID), ...op.vLoad(0), ...op.set(s),
    ...address(DUP), ...op.get(d), ...op.get(g), ...op.f32x4Mul, ...op.get(s), ...op.f32x4Mul, ...op.vStore(0),
    ...address(DGATE), ...op.get(d), ...address(UP), ...op.vLoad(0), ...op.f32x4Mul, ...op.get(s), ...op.f32x4Mul,
    ...op.vSplatConst(1), ...op.get(g), ...op.vSplatConst(1), ...op.get(s), ...op.f32x4Sub, ...op.f32x4Mul, ...op.f32x4Add, ...op.f32x4Mul, ...op.vStore(0),
    ...increment(at, 16),
  ];
  const body: Code = [...op.get(LENGTH), ...op.i32(2), ...op.shl, ...op.set(end), ...op.i32(0), ...op.set(at), ...whileNot([...op.get(at), ...op.get(end), ...op.geS], step)];
  return { name: "swigluBackward", params: new Array<number>(7).fill(I32), locals: locals.declarations(), body };
}
