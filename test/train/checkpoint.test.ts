import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roundThrough } from "../../src/merge/safetensors/dtype.ts";
import { exportOnnx } from "../../src/models/export.ts";
import { llamaLogits, loadWeights } from "../../src/models/llama-reference.ts";
import { initModel, loadModel, saveModel } from "../../src/train/model.ts";
import { trainModel } from "../../src/train/train.ts";
import { referenceConfig, SEQUENCES, TINY } from "./helpers.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-train-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function onnxLogits(folder: string, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(folder, "onnx", "model.onnx"));
  const int64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [1, values.length]);
  const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)), position_ids: int64(ids.map((_, i) => i)) };
  for (let l = 0; l < TINY.layers; l++) {
    for (const kind of ["key", "value"]) feeds[`past_key_values.${l}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [1, TINY.kvHeads, 0, TINY.headDim]);
  }
  const out = await session.run(feeds);
  await session.release();
  return out.logits!.data as Float32Array;
}

describe("trained checkpoints", () => {
  it("save as BF16 safetensors with a config.json, and load back as the BF16-rounded parameters", async () => {
    const model = initModel(TINY, 7);
    const folder = join(dir, "init");
    await saveModel(folder, model, { bos_token_id: 1, eos_token_id: 2 });
    const config = JSON.parse(await readFile(join(folder, "config.json"), "utf8")) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: "llama", hidden_size: 8, num_key_value_heads: 1, eos_token_id: 2, torch_dtype: "bfloat16" });
    const loaded = await loadModel(folder);
    expect(loaded.shape).toEqual(TINY);
    for (const [name, values] of model.params) {
      const rounded = values.slice();
      roundThrough(rounded, "BF16");
      expect(loaded.params.get(name), name).toEqual(rounded);
    }
  });

  it("a trained model exports to ONNX whose logits match the reference forward of the saved weights", async () => {
    const { model } = trainModel({ init: { shape: TINY, seed: 2 }, sequences: SEQUENCES, steps: 20, batchSize: 3, seqLen: 5, lr: 3e-2, seed: 1 });
    const folder = join(dir, "trained");
    await saveModel(folder, model);
    await exportOnnx(folder);
    const weights = await loadWeights(folder);
    const ids = [1, 7, 3, 19, 4, 0, 12];
    const reference = llamaLogits(referenceConfig(TINY), (n) => weights.get(n), ids);
    const onnx = await onnxLogits(folder, ids);
    let worst = 0;
    reference.forEach((row, t) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - onnx[t * TINY.vocab + j]!)))));
    expect(worst).toBeLessThan(1e-5);
    expect(Math.max(...reference.flatMap((row) => [...row].map(Math.abs)))).toBeGreaterThan(0.1);
  });
});
