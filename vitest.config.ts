import { defineConfig } from "vitest/config";

// Many tests start the real CLI in its own process; on 2 busy cores the 5 s default is too tight.
export default defineConfig({ test: { testTimeout: 30_000 } });
