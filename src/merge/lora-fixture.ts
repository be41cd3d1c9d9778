import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from "./lora.ts";
import { saveCheckpoint, type TensorToSave } from "./safetensors/save.ts";

/**
 * A PEFT LoRA adapter written from two checkpoints' weights, for fixtures: each 2-D tensor's delta (tuned − base)
 * is factored as B·A with r columns picked from it (pivoted Gram–Schmidt). The factorisation is exact when the
 * delta has rank ≤ r, as the fixture family's experts do (seeded rank-2 deltas); it is not an SVD and is no
 * tool for extracting adapters from real fine-tunes. 1-D tensors (norms) cannot be LoRA and are left out.
 */

export interface LowRankAdapterOptions {
  rank: number;
  /** adapter_config.json's base_model_name_or_path. */
  baseModel?: string;
}

export async function writeLowRankAdapter(dir: string, base: readonly TensorToSave[], tuned: readonly TensorToSave[], options: LowRankAdapterOptions): Promise<void> {
  const { rank } = options;
  const tensors: TensorToSave[] = [];
  const targets = new Set<string>();
  const byName = new Map(base.map((t) => [t.name, t]));
  for (const t of tuned) {
    const b = byName.get(t.name);
    if (!b || t.shape.length !== 2 || !t.name.endsWith(".weight")) continue;
    const [rows, cols] = t.shape as [number, number];
    const delta = Float64Array.from(t.values, (v, i) => v - b.values[i]!);
    if (delta.every((v) => v === 0)) continue;
    const module = t.name.slice(0, -".weight".length);
    targets.add(module.split(".").pop()!);
    const prefix = `base_model.model.${module}`;
    if (/embed_tokens$/.test(module)) {
      // PEFT's embedding LoRA adds (B·A)ᵀ: factor the transpose, [cols, rows].
      const { q, coefficients } = lowRank(transpose(delta, rows, cols), cols, rows, rank);
      tensors.push({ name: `${prefix}.lora_embedding_A`, dtype: "F32", shape: [rank, rows], values: coefficients });
      tensors.push({ name: `${prefix}.lora_embedding_B`, dtype: "F32", shape: [cols, rank], values: q });
    } else {
      const { q, coefficients } = lowRank(delta, rows, cols, rank);
      tensors.push({ name: `${prefix}.lora_A.weight`, dtype: "F32", shape: [rank, cols], values: coefficients });
      tensors.push({ name: `${prefix}.lora_B.weight`, dtype: "F32", shape: [rows, rank], values: q });
    }
  }
  await mkdir(dir, { recursive: true });
  const scratch = join(dir, ".weights");
  await saveCheckpoint(scratch, tensors);
  await rename(join(scratch, "model.safetensors"), join(dir, ADAPTER_WEIGHTS));
  await rm(scratch, { recursive: true, force: true });
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: rank,
    lora_alpha: rank, // scale 1: B·A is the delta itself
    lora_dropout: 0,
    bias: "none",
    use_rslora: false,
    use_dora: false,
    fan_in_fan_out: false,
    target_modules: [...targets].sort(),
    modules_to_save: null,
    base_model_name_or_path: options.baseModel ?? null,
  };
  await writeFile(join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2) + "\n");
}

function transpose(m: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j]!;
  return out;
}

/**
 * M [rows, cols] ≈ Q·C: Q [rows, r] has orthonormal columns taken from M's columns (largest residual first),
 * C = Qᵀ·M [r, cols]. Columns of Q beyond M's rank are zero.
 */
function lowRank(m: Float64Array, rows: number, cols: number, rank: number): { q: Float32Array; coefficients: Float32Array } {
  const residual = Float64Array.from(m);
  const basis: Float64Array[] = [];
  for (let k = 0; k < rank; k++) {
    let best = -1;
    let bestNorm = 1e-12;
    for (let j = 0; j < cols; j++) {
      let norm = 0;
      for (let i = 0; i < rows; i++) norm += residual[i * cols + j]! ** 2;
      if (norm > bestNorm) [best, bestNorm] = [j, norm];
    }
    const v = new Float64Array(rows);
    if (best >= 0) {
      const length = Math.sqrt(bestNorm);
      for (let i = 0; i < rows; i++) v[i] = residual[i * cols + best]! / length;
      // Remove the new direction from every column of the residual.
      for (let j = 0; j < cols; j++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += v[i]! * residual[i * cols + j]!;
        for (let i = 0; i < rows; i++) residual[i * cols + j] = residual[i * cols + j]! - dot * v[i]!;
      }
    }
    basis.push(v);
  }
  const q = new Float32Array(rows * rank);
  const coefficients = new Float32Array(rank * cols);
  basis.forEach((v, k) => {
    for (let i = 0; i < rows; i++) q[i * rank + k] = v[i]!;
    for (let j = 0; j < cols; j++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += v[i]! * m[i * cols + j]!;
      coefficients[k * cols + j] = dot;
    }
  });
  return { q, coefficients };
}
