import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExperiment, type Experiment, type ServedBackend } from "../../src/experiment/load.ts";
import { FAMILY, writeFixtureFamily } from "../../src/fixtures/family.ts";
import { expectInputError } from "../expect-input-error.ts";

/** `servers:` profiles and `serve: <profile>` as the experiment file states them. */

const RT = resolve("datasets/aya-redteaming-sample.jsonl");
const GE = resolve("datasets/dolly-200-sample.jsonl");

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-serve-load-"));
  await writeFixtureFamily(join(dir, "models"), FAMILY);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string, runDir = "runs/x"): Promise<Experiment> {
  const file = join(dir, `exp-${++count}.yml`);
  await writeFile(file, text);
  return loadExperiment(file, { runDir });
}

const M = () => join(dir, "models");
const study = (servers: string, extra = "", judges = "  harm: { name: refusal }\n  preference: { name: chrf }") => `name: s
languages: [en]
datasets: { redteam: ${RT}, general: ${GE} }
servers:
${servers}
models:
  base: { path: ${M()}/base, role: base, serve: vllm }
  general: { path: ${M()}/general, role: expert }
  safety: { path: ${M()}/safety, role: expert }
${extra}
judges:
${judges}
`;
const VLLM = "  vllm:\n    command: vllm serve {path} --port {port} --served-model-name {model}";
const sweep = `merges:
  lin:
    recipe: { merge_method: linear, models: [{ model: general, parameters: { weight: "\${1-w}" } }, { model: safety, parameters: { weight: "\${w}" } }] }
    sweep: { w: [0.2, 0.8] }
    serve: vllm
`;
const served = (e: Experiment, name: string) => e.models.find((m) => m.name === name)!.backend as ServedBackend;

describe("serve: <profile>", () => {
  it("serves a model and every point of a sweep with the profile, with its defaults", async () => {
    const e = await load(study(VLLM, sweep));
    expect(served(e, "base")).toMatchObject({ kind: "served", serve: { id: "base", path: `${M()}/base`, model: "base" } });
    expect(served(e, "base").serve.profile).toEqual({
      name: "vllm", command: "vllm serve {path} --port {port} --served-model-name {model}", ready: "/v1/models",
      startupTimeoutS: 900, stopTimeoutS: 30, parallel: 1, gpusPerServer: 1, env: {},
    });
    expect(e.models.find((m) => m.name === "general")!.backend.kind).toBe("onnx");
    for (const point of ["lin-w0.2", "lin-w0.8"]) {
      expect(served(e, point).serve).toMatchObject({ id: point, path: join("runs/x", "merges", point), model: point });
      expect(e.models.find((m) => m.name === point)!.source).toBe(join("runs/x", "merges", point));
    }
  });

  it("names a served model in cache keys by its name, folder and recipe, never by a port", async () => {
    const a = await load(study(VLLM, sweep));
    const b = await load(study(VLLM.replace("--served-model-name {model}", "--served-model-name {model} --dtype auto"), sweep));
    expect(served(b, "lin-w0.2").fingerprint).toBe(served(a, "lin-w0.2").fingerprint);
    expect(served(a, "lin-w0.8").fingerprint).not.toBe(served(a, "lin-w0.2").fingerprint);
    const changed = await load(study(VLLM, sweep.replace("merge_method: linear", "merge_method: linear, parameters: { normalize: false }")));
    expect(served(changed, "lin-w0.2").fingerprint).not.toBe(served(a, "lin-w0.2").fingerprint);
  });

  it("refuses a profile that is not in servers:, naming the line and the nearest name", async () => {
    await expectInputError(load(study(VLLM).replace("serve: vllm }", "serve: vlm }")), ":8: models.base.serve: no server profile \"vlm\" (did you mean \"vllm\"?); the servers: section has vllm");
    await expectInputError(load(study(VLLM, sweep.replace("serve: vllm", "serve: tgi"))), "merges.lin.serve: no server profile \"tgi\"");
  });

  it("refuses templates mergeval cannot fill or run", async () => {
    await expectInputError(load(study(`  vllm: { command: "vllm serve {path} --served-model-name {model}" }`)), "servers.vllm.command: mergeval chooses a free port for each server: the command must pass {port}");
    await expectInputError(load(study("  vllm:\n    command: vllm serve {path} --port {port} --tp {tp}")), ":6: servers.vllm.command: unknown placeholder {tp}; the placeholders are {path} {port} {model} {gpu}");
    await expectInputError(load(study(`  vllm: { command: "vllm serve '{path} --port {port}" }`)), "servers.vllm.command: unterminated ' quote");
    await expectInputError(load(study(`  vllm: { command: "vllm serve {path} --port {port}", env: { X: "{gpus}" } }`)), "servers.vllm.env.X: unknown placeholder {gpus}");
    await expectInputError(load(study(`  vllm: { command: "vllm serve {path} --port {port}", parallel: 0 }`)), "servers.vllm.parallel");
  });
});

describe("served judges", () => {
  it("have a label and cache identity that name their folder, not the port they get", async () => {
    const e = await load(study(VLLM, "", `  harm: { name: llm-harm, path: ${M()}/safety, serve: vllm, model: guard }\n  preference: { name: chrf }`));
    const [member] = e.panels.harm;
    expect(member!.label).toBe("llm-harm:guard");
    expect(member!.served!.serve).toMatchObject({ id: "judge-guard", path: `${M()}/safety`, model: "guard" });
    expect(member!.judge.endpointHost).toBe("a vllm server mergeval starts");
    const connected = member!.served!.connect("http://127.0.0.1:45678/v1");
    expect(connected.config).toBe(member!.judge.config);
    expect(connected.config).not.toContain("45678");
    // The model defaults to the folder's name.
    const unnamed = await load(study(VLLM, "", `  harm: { name: llm-harm, path: ${M()}/safety, serve: vllm }\n  preference: { name: chrf }`));
    expect(unnamed.panels.harm[0]!.label).toBe("llm-harm:safety");
  });

  it("take path: and serve: together, without endpoint:", async () => {
    await expectInputError(load(study(VLLM, "", `  harm: { name: llm-harm, serve: vllm }\n  preference: { name: chrf }`)), "a served judge takes path: (its folder) and serve: (a servers: profile), not endpoint:");
    await expectInputError(load(study(VLLM, "", `  harm: { name: llm-harm, path: x }\n  preference: { name: chrf }`)), "path: is for a judge mergeval serves: add serve: naming a servers: profile");
  });
});
