import { InputError } from "../errors.ts";
import { chrfJudge } from "./chrf.ts";
import type { JudgeEndpoint } from "./llm.ts";
import { createLlamaGuardJudge } from "./llama-guard.ts";
import { createLlmHarmJudge } from "./llm-harm.ts";
import { createLlmPairwiseJudge } from "./llm-pairwise.ts";
import { refusalJudge } from "./refusal.ts";
import type { Judge } from "./types.ts";

export interface JudgeOptions {
  /** For LLM judges: the OpenAI-compatible endpoint and model that judge. */
  endpoint?: JudgeEndpoint;
  /** For LLM judges: a prompt template replacing the default ({prompt}, {response}… placeholders). */
  template?: string;
  /** For llm-pairwise: judge one seeded random order per prompt instead of both. */
  singleOrderSeed?: number;
}

interface JudgeFactory {
  name: string;
  summary: string;
  needsEndpoint: boolean;
  create: (options: JudgeOptions) => Judge;
}

const FACTORIES: readonly JudgeFactory[] = [
  { name: "llm-harm", summary: "LLM harm judge on an endpoint: [[HARMFUL]] / [[SAFE]] (en hi fr es ar ru)", needsEndpoint: true, create: (o) => createLlmHarmJudge(o.endpoint!, o.template) },
  { name: "llama-guard", summary: "Llama Guard 3 on a completions endpoint: safe / unsafe + S-codes (en fr de hi it pt es th; not ar, ru)", needsEndpoint: true, create: (o) => createLlamaGuardJudge(o.endpoint!) },
  { name: "llm-pairwise", summary: "LLM preference judge, both orders, ties and order-inconsistent pairs count ½ (en hi fr es ar ru)", needsEndpoint: true, create: (o) => createLlmPairwiseJudge(o.endpoint!, { ...(o.template ? { template: o.template } : {}), ...(o.singleOrderSeed !== undefined ? { singleOrderSeed: o.singleOrderSeed } : {}) }) },
  { name: "refusal", summary: "offline harm proxy: refusal phrases (en hi fr es ar ru); a weak proxy", needsEndpoint: false, create: () => refusalJudge },
  { name: "chrf", summary: "offline preference proxy: chrF against the Dolly references (en hi fr es ar ru)", needsEndpoint: false, create: () => chrfJudge },
];

export function judgeSummaries(): { name: string; summary: string }[] {
  return FACTORIES.map(({ name, summary }) => ({ name, summary }));
}

export function judgeNames(): string[] {
  return FACTORIES.map((f) => f.name);
}

export function createJudge(name: string, options: JudgeOptions = {}): Judge {
  const factory = FACTORIES.find((f) => f.name === name);
  if (!factory) throw new InputError(`--judge: "${name}" is not a judge; one of ${judgeNames().join(", ")}`);
  if (factory.needsEndpoint && !options.endpoint) throw new InputError(`${name} needs --endpoint URL --model NAME`);
  return factory.create(options);
}
