import { Kernels } from "./kernels.ts";
import type { AttentionScratch } from "./layers/attention.ts";
import { ropeTable, type RopeTable } from "./layers/rope.ts";
import type { Params } from "./model.ts";
import { checkShape, tensorShapes, type ModelShape } from "./shape.ts";

/**
 * What one layer's forward pass keeps for its backward pass; rows = batch · seqLen, where seqLen is the current
 * batch's (buffers are sized for maxSeqLen, and a batch of short sequences uses their first rows only).
 */
export interface LayerActivations {
  input: Float32Array; // [rows × hidden], the residual stream entering the layer
  norm1: Float32Array;
  rms1: Float32Array; // [rows], 1/rms per row
  q: Float32Array; // [rows × heads·headDim], rotated
  k: Float32Array; // [rows × kvHeads·headDim], rotated
  v: Float32Array;
  probs: Float32Array; // [batch × heads × seqLen × seqLen]
  attn: Float32Array; // [rows × heads·headDim]
  mid: Float32Array; // [rows × hidden], the residual stream after attention
  norm2: Float32Array;
  rms2: Float32Array;
  gate: Float32Array; // [rows × intermediate]
  up: Float32Array;
  sigmoid: Float32Array; // σ(gate)
  act: Float32Array;
}

/** Gradient buffers reused by every layer. */
export interface GradientScratch {
  residual: Float32Array; // [rows × hidden], ∂L/∂(residual stream) at the current depth
  norm: Float32Array; // [rows × hidden]
  attn: Float32Array; // [rows × heads·headDim]
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  act: Float32Array; // [rows × intermediate]
  gate: Float32Array;
  up: Float32Array;
  normWeight: Float64Array; // float64 sums for RMSNorm weight gradients
}

/**
 * Every buffer of one training engine, allocated once for a shape, batch size and sequence length: parameters
 * and their gradients (one contiguous block each, with a view per tensor), weight transposes, activations,
 * gradient scratch. Nothing is allocated per step except small subarray views.
 */
export interface Engine {
  kernels: Kernels;
  shape: ModelShape;
  batch: number;
  /** The longest sequence the buffers hold. */
  maxSeqLen: number;
  /** Positions per sequence in the current batch (set by fillBatch), and batch · seqLen. */
  seqLen: number;
  rows: number;
  params: Params;
  grads: Params;
  flatParams: Float32Array;
  flatGrads: Float32Array;
  /** Wᵀ [in × out] of every matrix W [out × in] but the embedding, refreshed by each forward pass. */
  transposed: Map<string, { values: Float32Array; out: number; in: number }>;
  tokens: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  layers: LayerActivations[];
  final: Float32Array; // the residual stream after the last layer
  finalNorm: Float32Array;
  finalRms: Float32Array;
  logits: Float32Array; // [rows × vocab]
  dlogits: Float32Array;
  grad: GradientScratch;
  attentionScratch: AttentionScratch;
  rope: RopeTable;
}

export function createEngine(shape: ModelShape, batch: number, longest: number): Engine {
  checkShape(shape);
  const seqLen = Math.ceil(longest / 8) * 8; // batches are padded to multiples of 8: whole vectors for the kernels
  const kernels = new Kernels();
  const { vocab, hidden: H, intermediate: I, layers, heads, kvHeads, headDim } = shape;
  const rows = batch * seqLen;
  const [Hq, Hkv] = [heads * headDim, kvHeads * headDim];
  const f32 = (n: number) => kernels.alloc(n);

  const shapes = tensorShapes(shape);
  const total = shapes.reduce((sum, [, dims]) => sum + dims.reduce((a, b) => a * b, 1), 0);
  const flatParams = f32(total);
  const flatGrads = f32(total);
  const params: Params = new Map();
  const grads: Params = new Map();
  const transposed: Engine["transposed"] = new Map();
  let at = 0;
  for (const [name, dims] of shapes) {
    const size = dims.reduce((a, b) => a * b, 1);
    params.set(name, flatParams.subarray(at, at + size));
    grads.set(name, flatGrads.subarray(at, at + size));
    if (dims.length === 2 && name !== "model.embed_tokens.weight") transposed.set(name, { values: f32(size), out: dims[0]!, in: dims[1]! });
    at += size;
  }

  const layerActivations = Array.from({ length: layers }, (): LayerActivations => ({
    input: f32(rows * H),
    norm1: f32(rows * H),
    rms1: f32(rows),
    q: f32(rows * Hq),
    k: f32(rows * Hkv),
    v: f32(rows * Hkv),
    probs: f32(batch * heads * seqLen * seqLen),
    attn: f32(rows * Hq),
    mid: f32(rows * H),
    norm2: f32(rows * H),
    rms2: f32(rows),
    gate: f32(rows * I),
    up: f32(rows * I),
    sigmoid: f32(rows * I),
    act: f32(rows * I),
  }));
  const grad: GradientScratch = {
    residual: f32(rows * H),
    norm: f32(rows * H),
    attn: f32(rows * Hq),
    q: f32(rows * Hq),
    k: f32(rows * Hkv),
    v: f32(rows * Hkv),
    act: f32(rows * I),
    gate: f32(rows * I),
    up: f32(rows * I),
    normWeight: new Float64Array(H),
  };
  return {
    kernels,
    shape,
    batch,
    maxSeqLen: seqLen,
    seqLen,
    rows,
    params,
    grads,
    flatParams,
    flatGrads,
    transposed,
    tokens: new Int32Array(rows),
    targets: new Int32Array(rows),
    weights: new Float32Array(rows),
    layers: layerActivations,
    final: f32(rows * H),
    finalNorm: f32(rows * H),
    finalRms: f32(rows),
    logits: f32(rows * vocab),
    dlogits: f32(rows * vocab),
    grad,
    attentionScratch: { square: f32(seqLen * seqLen), headT: f32(headDim * seqLen) },
    rope: ropeTable(seqLen, headDim, shape.ropeTheta),
  };
}

/** Copies `params` into the engine's own parameter buffers. */
export function loadParams(engine: Engine, params: Params): void {
  for (const [name, target] of engine.params) {
    const source = params.get(name);
    if (!source || source.length !== target.length) throw new Error(`parameters: ${name} is missing or has ${source?.length} values, not ${target.length}`);
    target.set(source);
  }
}

/** Standalone copies of the engine's parameters (plain buffers, safe to keep, save or post to another thread). */
export function copyParams(engine: Engine): Params {
  return new Map([...engine.params].map(([name, values]) => [name, values.slice()]));
}
