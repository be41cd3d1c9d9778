// Worker threads start without the main thread's TypeScript loader: register tsx (resolved from this
// package, whatever the working directory), then load the TypeScript worker. Only when running src/ through
// tsx: the compiled build (dist/) starts its workers on job-worker.js directly (see WorkerPool).
import { register } from "tsx/esm/api";

register();
await import("./job-worker.ts");
