import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: mergeval export-onnx MODEL_DIR [OUT_DIR]

Exports a LLaMA-family Hugging Face folder (model_type llama, mistral or qwen2; safetensors F32/F16/BF16) to
OUT_DIR/onnx/model.onnx with a KV cache, in the layout @huggingface/transformers loads for generation, and
copies config.json and the tokenizer files beside it. OUT_DIR defaults to MODEL_DIR. Then:
  mergeval generate --onnx OUT_DIR ...

Supported: RMSNorm, rotary embeddings (rope_theta), grouped-query attention, SwiGLU, tied or untied lm_head,
q/k/v biases. Over 1.5 GB of weights, they go to onnx/model.onnx_data (ONNX external data) and config.json
tells @huggingface/transformers to load it. Refused with a clear error: other model types, rope_scaling.

Options:
  -h, --help   show this help`;

export const exportCommand: Command = {
  name: "export-onnx",
  summary: "export a LLaMA-family safetensors folder to ONNX for local generation",
  help: HELP,
  async run(argv, io) {
    const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
    if (positionals.length < 1 || positionals.length > 2) throw new InputError(`export-onnx takes MODEL_DIR [OUT_DIR]\n\n${HELP}`);
    const { exportOnnx } = await import("../models/export.ts");
    const started = Date.now();
    const summary = await exportOnnx(positionals[0]!, positionals[1]);
    io.out(`exported ${summary.tensors} tensors (${(summary.bytes / 1e6).toFixed(1)} MB of ONNX) to ${summary.outDir}/onnx/model.onnx in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  },
};
