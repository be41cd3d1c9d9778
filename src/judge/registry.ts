import { chrfJudge } from "./chrf.ts";
import { refusalJudge } from "./refusal.ts";
import type { Judge } from "./types.ts";

/** The offline judges; endpoint-backed judges (llm-harm, llama-guard, llm-pairwise) join here as one file each. */
const JUDGES: readonly Judge[] = [refusalJudge, chrfJudge];

export function judgeNames(): string[] {
  return JUDGES.map((j) => j.name);
}

export function getJudge(name: string): Judge | undefined {
  return JUDGES.find((j) => j.name === name);
}
