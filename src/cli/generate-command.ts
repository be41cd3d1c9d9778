import { basename, resolve } from "node:path";
import { setMaxListeners } from "node:events";
import { parseArgs } from "node:util";
import type { Sample } from "../datasets/types.ts";
import { EXIT_CHECK_FAILED, InputError } from "../errors.ts";
import type { BackendSpec } from "../generate/index.ts";
import type { Command } from "./command.ts";
import { intFlag, numberFlag } from "./flags.ts";

const HELP = `Usage: mergeval generate MODEL --dataset FILE [--dataset FILE …] --out RUN_DIR [options]

Completions for every prompt of the datasets, per language, appended to RUN_DIR/generations/<model>.jsonl as
they finish. A rerun skips what is done (cache key: model fingerprint, rendered prompt, decoding parameters)
and retries what failed; a run killed at any moment resumes with nothing lost and nothing duplicated.

MODEL, one of:
  --onnx DIR               a local model folder (config.json, tokenizer files, onnx/model.onnx), run on the
                           CPU through @huggingface/transformers; prompts rendered with its chat template.
                           A LLaMA-family safetensors folder (e.g. a merge) is exported on first use and the
                           export cached by weights hash ($MERGEVAL_CACHE, default ~/.cache/mergeval)
  --endpoint URL --model NAME
                           an OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, hosted APIs); repeat
                           --endpoint to spread the load over several servers of the same model

Options:
  --dataset FILE           Aya Red-teaming or Dolly-200 file (JSONL, CSV or Parquet); repeatable
  --languages LIST         comma-separated language ids (default: every language in the datasets)
  --limit N                at most N prompts per dataset and language
  --out RUN_DIR            the run folder
  --model NAME             the model's name in records (default for --onnx: the folder's name)
  --api-key-env VAR        the environment variable holding the endpoint's API key (never written anywhere)
  --completions            use /completions with plain text instead of /chat/completions
  --system TEXT            a system message before each prompt
  --max-tokens N           default 256
  --temperature T          default 0 (greedy)
  --seed N                 sampling seed (with --temperature > 0)
  --concurrency N          requests in flight (default 16 for endpoints, 1 for --onnx; halves on HTTP 429)
  --timeout SECONDS        per request (default 120)
  --retries N              per request, with exponential backoff honouring Retry-After (default 5)
  --strict                 a bad dataset row is fatal (default: reported and skipped)
  -q, --quiet              no progress, no summary
  -h, --help               show this help

Exit codes: 0 every prompt done, 1 some prompts failed (rerun to retry them), 2 bad input, 130 interrupted.`;

export const generateCommand: Command = {
  name: "generate",
  summary: "completions per language from a local ONNX model or an OpenAI-compatible endpoint",
  help: HELP,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        onnx: { type: "string" },
        endpoint: { type: "string", multiple: true },
        model: { type: "string" },
        "api-key-env": { type: "string" },
        completions: { type: "boolean" },
        dataset: { type: "string", multiple: true },
        languages: { type: "string" },
        limit: { type: "string" },
        out: { type: "string" },
        system: { type: "string" },
        "max-tokens": { type: "string" },
        temperature: { type: "string" },
        seed: { type: "string" },
        concurrency: { type: "string" },
        timeout: { type: "string" },
        retries: { type: "string" },
        strict: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
      },
    });
    const backend = backendFrom(values);
    const model = values.model ?? basename(resolve(values.onnx!));
    if (!values.dataset?.length) throw new InputError("give at least one --dataset FILE");
    if (!values.out) throw new InputError("--out RUN_DIR is required");
    const { loadDataset } = await import("../datasets/index.ts");
    const { generate } = await import("../generate/index.ts");
    const { DEFAULT_RETRY } = await import("../generate/retry.ts");
    const { createProgress } = await import("./progress.ts");
    const languages = values.languages?.split(",").map((l) => l.trim()).filter(Boolean);
    const limit = intFlag(values.limit, "--limit", 1);

    const samples: Sample[] = [];
    for (const file of values.dataset) {
      const loaded = await loadDataset(file, { languages, strict: values.strict });
      for (const p of loaded.problems) io.err(`warning: ${p.file}:${p.line}: ${p.message} (row skipped)`);
      samples.push(...(limit ? firstPerLanguage(loaded.samples, limit) : loaded.samples));
    }
    if (samples.length === 0) throw new InputError(`no prompts to generate for${languages ? ` languages ${languages.join(",")}` : ""}`);

    const temperature = numberFlag(values.temperature, "--temperature", 0) ?? 0;
    const decoding = {
      maxTokens: intFlag(values["max-tokens"], "--max-tokens", 1) ?? 256,
      temperature,
      ...(values.seed !== undefined ? { seed: intFlag(values.seed, "--seed", 0)! } : {}),
    };
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // every request in flight listens for the interrupt
    const onSigint = () => controller.abort(new Error("interrupted"));
    process.once("SIGINT", onSigint);
    const progress = createProgress({ quiet: values.quiet, unit: "items", periodicMs: 10_000 });
    try {
      const summary = await generate({
        runDir: values.out,
        model,
        backend,
        samples,
        decoding,
        concurrency: intFlag(values.concurrency, "--concurrency", 1),
        timeoutMs: values.timeout === undefined ? undefined : intFlag(values.timeout, "--timeout", 1)! * 1000,
        retry: values.retries === undefined ? undefined : { ...DEFAULT_RETRY, retries: intFlag(values.retries, "--retries", 0)! },
        system: values.system,
        signal: controller.signal,
        onStart: ({ total, repairedBytes, file }) => {
          if (repairedBytes) io.err(`note: ${file}: cut a torn last line (${repairedBytes} bytes) left by an interrupted run`);
          progress.start(total, `generate ${model}`);
        },
        onRecord: (record) => progress.tick(1, `${record.language} ${record.id}`),
        onWarning: (line) => io.err(`warning: ${line}`),
      });
      progress.stop();
      if (!values.quiet) {
        io.out(
          `${model}: ${summary.done} generated, ${summary.cached} cached, ${summary.errors} failed of ${summary.total}; ` +
            `${summary.promptTokens + summary.completionTokens} tokens, ${summary.requestsPerSecond.toFixed(1)} requests/s → ${summary.file}`,
        );
      }
      if (controller.signal.aborted) return 130;
      if (summary.errors > 0) {
        io.err(`${summary.errors} prompt(s) failed (recorded in ${summary.file}):\n  ${summary.causes.lines().join("\n  ")}\nrerun the same command to retry only those`);
        return EXIT_CHECK_FAILED;
      }
      return 0;
    } finally {
      progress.stop();
      process.off("SIGINT", onSigint);
    }
  },
};

function backendFrom(values: { onnx?: string; endpoint?: string[]; model?: string; "api-key-env"?: string; completions?: boolean }): BackendSpec {
  if (values.onnx && values.endpoint) throw new InputError("give either --onnx DIR or --endpoint URL, not both");
  if (values.onnx) return { kind: "onnx", dir: resolve(values.onnx) };
  if (values.endpoint?.length) {
    if (!values.model) throw new InputError("--model NAME is required with --endpoint");
    return {
      kind: "openai",
      baseUrls: values.endpoint,
      model: values.model,
      ...(values["api-key-env"] ? { apiKeyEnv: values["api-key-env"] } : {}),
      mode: values.completions ? "completions" : "chat",
    };
  }
  throw new InputError("give a model: --onnx DIR, or --endpoint URL --model NAME");
}

function firstPerLanguage(samples: Sample[], limit: number): Sample[] {
  const counts = new Map<string, number>();
  return samples.filter((s) => {
    const n = counts.get(s.language) ?? 0;
    counts.set(s.language, n + 1);
    return n < limit;
  });
}
