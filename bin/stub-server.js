#!/usr/bin/env node
// The loopback OpenAI-compatible stub as a program (src/fixtures/stub-server-main.ts), for tests that have mergeval
// start it as it would start vLLM: `node bin/stub-server.js --port P --model M`. Runs dist/ while it is fresh, else
// src/ through tsx, as bin/mergeval.js does.
import { distIsFresh } from "./fresh.js";

if (distIsFresh()) {
  await import("../dist/fixtures/stub-server-main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/fixtures/stub-server-main.ts");
}
