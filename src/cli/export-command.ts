import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: mergeval export-onnx MODEL_DIR [OUT_DIR]

Exports a LLaMA-family Hugging Face folder (model_type llama, mistral or qwen2; safetensors F32/F16/BF16) to
OUT_DIR/onnx/model.onnx with a KV cache, in the layout @huggingface/transformers loads for generation, and
copies config.json and the tokenizer files beside it. OUT_DIR defaults to MODEL_DIR. Then:
  mergeval generate --onnx OUT_DIR ...

Exported as config.json describes it, the way Hugging Face transformers reads it: RMSNorm, rotary embeddings
(rope_theta, computed from the positions: no length limit), grouped-query attention, head_dim, the gated MLP with
hidden_act silu (or swish), gelu (exact), gelu_pytorch_tanh or gelu_new, mistral's sliding_window and qwen2's (use_sliding_window, max_window_layers,
layer_types), tied or untied lm_head, llama's attention_bias / mlp_bias and qwen2's q/k/v biases. A value the
graph cannot honour is refused, naming the file and the field: other model types and activations, rope scaling,
partial_rotary_factor, an untied config without lm_head.weight, a missing bias, a tensor shape that disagrees.
Tensors the config does not use are left out, as transformers would, with a warning. Over 1.5 GB of weights,
they go to onnx/model.onnx_data (ONNX external data) and config.json tells @huggingface/transformers to load it.

Options:
  -q, --quiet  no progress bar and no summary line (warnings and errors still print)
  -h, --help   show this help`;

export const exportCommand: Command = {
  name: "export-onnx",
  summary: "export a LLaMA-family safetensors folder to ONNX for local generation",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { quiet: { type: "boolean", short: "q" } } });
    if (positionals.length < 1 || positionals.length > 2) throw new InputError(`export-onnx takes MODEL_DIR [OUT_DIR]\n\n${HELP}`);
    const { exportOnnx } = await import("../models/export.ts");
    const { createProgress } = await import("./progress.ts");
    const started = Date.now();
    // One bar per phase on a terminal (converting the tensors, then writing the files), nothing off one.
    let progress: ReturnType<typeof createProgress> | undefined;
    const summary = await exportOnnx(positionals[0]!, positionals[1], {
      onPhase: (phase, total) => {
        progress?.stop();
        progress = createProgress({ quiet: values.quiet, unit: "bytes" });
        progress.start(total, phase);
      },
      onProgress: (bytes, detail) => progress?.tick(bytes, detail),
    }).finally(() => progress?.stop());
    for (const warning of summary.warnings) io.err(`warning: ${warning}`);
    if (!values.quiet) {
      const files = summary.files.map((f) => `${summary.outDir}/${f}`);
      const where = files.length > 1 ? `${files.at(-1)} (+ ${files.slice(0, -1).join(", ")})` : files[0];
      const warned = summary.warnings.length > 0 ? `; ${summary.warnings.length} warning${summary.warnings.length > 1 ? "s" : ""}` : "";
      io.out(`exported ${summary.tensors} tensors (${(summary.bytes / 1e6).toFixed(1)} MB) to ${where} in ${((Date.now() - started) / 1000).toFixed(1)} s${warned}`);
    }
    return 0;
  },
};
