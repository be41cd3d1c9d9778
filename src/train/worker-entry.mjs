// Worker threads start without the main thread's TypeScript loader: register tsx, then load the TypeScript
// worker. Only when running src/ through tsx: the compiled build (dist/) starts train/worker.js directly.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
