import { Worker } from "node:worker_threads";

export type WorkerScript = "worker" | "gradient-worker";

/**
 * Starts train/<script> on a worker thread: the compiled .js under dist/; under src/ (tsx), through
 * worker-entry.mjs, which registers tsx in the new thread first. workerData.script names the module.
 */
export function startWorker(script: WorkerScript, workerData: Record<string, unknown> = {}): Worker {
  const entry = import.meta.url.endsWith(".ts") ? "./worker-entry.mjs" : `./${script}.js`;
  return new Worker(new URL(entry, import.meta.url), { workerData: { ...workerData, script } });
}
