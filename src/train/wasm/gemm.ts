import { I32, op, V128, whileNot, type Code, type WasmFunction } from "../../util/wasm-assembler.ts";

/**
 * gemm(a, lda, b, ldb, c, ldc, m, k, n, accumulate): C[m×n] (+)= A[m×k] · B[k×n], row-major float32, a/b/c byte
 * addresses, lda/ldb/ldc row strides in elements, n a multiple of 4 (the caller does the last n mod 4 columns).
 * gemmTA takes A stored transposed, [k×m] with row stride lda, and computes C (+)= Aᵀ·B the same way: weight
 * gradients (dyᵀ·x) and attention's Pᵀ·dO need no explicit transpose.
 *
 * Register-blocked: a block of 4 rows × 8 columns of C stays in eight f32x4 accumulators for the whole k loop,
 * each step loading two vectors of one B row and four scalars of A (splatted). Row and column remainders run
 * the same block with 1 row or 4 columns. For one (m, k, n) the summation order is fixed: k ascending.
 */
const [A, LDA, B, LDB, C, LDC, M, K, N, ACCUMULATE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const PARAMS = 10;
const I = PARAMS;
const J = PARAMS + 1;
const STEP = PARAMS + 2;
const PB = PARAMS + 3;
const PC = PARAMS + 4;
const LDA_BYTES = PARAMS + 5;
const LDB_BYTES = PARAMS + 6;
const LDC_BYTES = PARAMS + 7;
const PA = PARAMS + 8; // four row pointers into A (one for gemmTA, whose four rows are adjacent)
const I32_LOCALS = 12;
const ACC = PARAMS + I32_LOCALS; // eight accumulators: row r, vector v at ACC + 2r + v
const BV = ACC + 8; // two vectors of the current B row
const SPLAT = BV + 2;
const V128_LOCALS = 11;

const bytes = (local: number): Code => [...op.get(local), ...op.i32(2), ...op.shl];

/** C[i..i+rows, j..j+4·vecs] (+)= A[i..i+rows, :] · B[:, j..j+4·vecs]. */
function block(rows: number, vecs: number, transposedA: boolean): Code {
  const acc = (r: number, v: number) => ACC + 2 * r + v;
  const code: Code = [];
  // Row pointers into A and the corner of C.
  if (transposedA) code.push(...op.get(A), ...bytes(I), ...op.add, ...op.set(PA));
  else {
    code.push(...op.get(A), ...op.get(I), ...op.get(LDA_BYTES), ...op.mul, ...op.add, ...op.set(PA));
    for (let r = 1; r < rows; r++) code.push(...op.get(PA + r - 1), ...op.get(LDA_BYTES), ...op.add, ...op.set(PA + r));
  }
  code.push(...op.get(B), ...bytes(J), ...op.add, ...op.set(PB));
  code.push(...op.get(C), ...op.get(I), ...op.get(LDC_BYTES), ...op.mul, ...op.add, ...bytes(J), ...op.add, ...op.set(PC));
  const rowOfC = (r: number): Code => [...op.get(PC), ...(r ? [...op.get(LDC_BYTES), ...op.i32(r), ...op.mul, ...op.add] : [])];
  // Accumulators start from C or from zero.
  code.push(...op.get(ACCUMULATE), ...op.if);
  for (let r = 0; r < rows; r++) for (let v = 0; v < vecs; v++) code.push(...rowOfC(r), ...op.vLoad(16 * v), ...op.set(acc(r, v)));
  code.push(...op.else);
  for (let r = 0; r < rows; r++) for (let v = 0; v < vecs; v++) code.push(...op.vZero, ...op.set(acc(r, v)));
  code.push(...op.end);
  // The k loop.
  const step: Code = [];
  for (let v = 0; v < vecs; v++) step.push(...op.get(PB), ...op.vLoad(16 * v), ...op.set(BV + v));
  for (let r = 0; r < rows; r++) {
    const load = transposedA ? [...op.get(PA), ...op.f32Load(4 * r)] : [...op.get(PA + r), ...op.f32Load(0)];
    step.push(...load, ...op.f32x4Splat, ...op.set(SPLAT));
    for (let v = 0; v < vecs; v++) step.push(...op.get(SPLAT), ...op.get(BV + v), ...op.f32x4Mul, ...op.get(acc(r, v)), ...op.f32x4Add, ...op.set(acc(r, v)));
    if (!transposedA) step.push(...op.get(PA + r), ...op.i32(4), ...op.add, ...op.set(PA + r));
  }
  if (transposedA) step.push(...op.get(PA), ...op.get(LDA_BYTES), ...op.add, ...op.set(PA));
  step.push(...op.get(PB), ...op.get(LDB_BYTES), ...op.add, ...op.set(PB));
  step.push(...op.get(STEP), ...op.i32(1), ...op.add, ...op.set(STEP));
  code.push(...op.i32(0), ...op.set(STEP), ...whileNot([...op.get(STEP), ...op.get(K), ...op.geS], step));
  for (let r = 0; r < rows; r++) for (let v = 0; v < vecs; v++) code.push(...rowOfC(r), ...op.get(acc(r, v)), ...op.vStore(16 * v));
  return code;
}

/** Every column block of the current rows: 8 columns at a time, then one block of 4 if n mod 8 is 4. */
function columns(rows: number, transposedA: boolean): Code {
  const wide = whileNot([...op.get(J), ...op.i32(8), ...op.add, ...op.get(N), ...op.gtS], [...block(rows, 2, transposedA), ...op.get(J), ...op.i32(8), ...op.add, ...op.set(J)]);
  const narrow = [...op.get(J), ...op.get(N), ...op.geS, ...op.brIf(0), ...block(rows, 1, transposedA)];
  return [...op.i32(0), ...op.set(J), ...wide, ...op.block, ...narrow, ...op.end];
}

function rowsOf(rows: number, transposedA: boolean): Code {
  return whileNot([...op.get(I), ...op.i32(rows), ...op.add, ...op.get(M), ...op.gtS], [...columns(rows, transposedA), ...op.get(I), ...op.i32(rows), ...op.add, ...op.set(I)]);
}

export function gemmFunction(transposedA: boolean): WasmFunction {
  const setup: Code = [...bytes(LDA), ...op.set(LDA_BYTES), ...bytes(LDB), ...op.set(LDB_BYTES), ...bytes(LDC), ...op.set(LDC_BYTES), ...op.i32(0), ...op.set(I)];
  return {
    name: transposedA ? "gemmTA" : "gemm",
    params: new Array<number>(PARAMS).fill(I32),
    locals: [[I32_LOCALS, I32], [V128_LOCALS, V128]],
    body: [...setup, ...rowsOf(4, transposedA), ...rowsOf(1, transposedA)],
  };
}
