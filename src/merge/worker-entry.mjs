// Worker threads start without the main thread's TypeScript loader: register tsx (resolved from this
// package, whatever the working directory), then load the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./job-worker.ts");
