// Worker threads start without the main thread's TypeScript loader: register tsx, then load the TypeScript
// worker that workerData.script names. Only when running src/ through tsx: the compiled build (dist/) starts
// train/<script>.js directly (see start-worker.ts).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(`./${workerData.script}.ts`);
