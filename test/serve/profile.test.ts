import { describe, expect, it } from "vitest";
import { commandWords, fillPlaceholders, gpusOf, lastLines, readiness, serverEnv, showCommand, splitWords, unknownPlaceholders, type ServerProfile } from "../../src/serve/profile.ts";

const profile = (over: Partial<ServerProfile> = {}): ServerProfile => ({
  name: "vllm", command: "vllm serve {path} --port {port} --served-model-name {model}", ready: "/v1/models",
  startupTimeoutS: 900, stopTimeoutS: 30, parallel: 1, gpusPerServer: 1, env: {}, ...over,
});
const values = { path: "runs/study/merges/lin-w0.2", port: "41234", model: "lin-w0.2", gpu: "1" };

describe("server profiles", () => {
  it("split the command into words as a shell does, then fill each word: a path with spaces stays one word", () => {
    expect(splitWords(`llama-server -m {path}/model.gguf --alias "{model}" --chat-template 'a b' x\\ y`)).toEqual(["llama-server", "-m", "{path}/model.gguf", "--alias", "{model}", "--chat-template", "a b", "x y"]);
    expect(splitWords(` a  "" 'it''s' "say \\"hi\\"" `)).toEqual(["a", "", "its", 'say "hi"']);
    expect(() => splitWords("vllm serve 'oops")).toThrow(/unterminated ' quote/);
    expect(commandWords(profile(), { ...values, path: "my models/m 1" })).toEqual(["vllm", "serve", "my models/m 1", "--port", "41234", "--served-model-name", "lin-w0.2"]);
  });

  it("know their placeholders", () => {
    expect(unknownPlaceholders("x {path} {port} {model} {gpu} {gpus} {Path}")).toEqual(["gpus", "Path"]);
    expect(fillPlaceholders("{model}@{port}:{gpu} {other}", values)).toBe("lin-w0.2@41234:1 {other}");
  });

  it("give each slot its GPUs, as {gpu} and CUDA_VISIBLE_DEVICES, with the profile's variables filled in", () => {
    expect(gpusOf(profile(), 3)).toBe("3");
    expect(gpusOf(profile({ gpusPerServer: 2 }), 1)).toBe("2,3");
    expect(serverEnv(profile({ env: { VLLM_PORT_HINT: "{port}", HF_HOME: "/data/hf" } }), values)).toEqual({ CUDA_VISIBLE_DEVICES: "1", VLLM_PORT_HINT: "41234", HF_HOME: "/data/hf" });
    // No GPUs: CUDA_VISIBLE_DEVICES is left as it is (a CPU server, or Ray placing its workers itself).
    expect(serverEnv(profile({ gpusPerServer: 0 }), { ...values, gpu: "" })).toEqual({});
    expect(serverEnv(profile({ env: { CUDA_VISIBLE_DEVICES: "4,5" } }), values)).toEqual({ CUDA_VISIBLE_DEVICES: "4,5" });
  });

  it("show a command as it could be typed", () => {
    expect(showCommand(["vllm", "serve", "my models/x", "--reply", "[[SAFE]]", "it's", "{port}"])).toBe(`vllm serve 'my models/x' --reply '[[SAFE]]' 'it'\\''s' {port}`);
  });

  it("are ready on 2xx, and when the answer is a model list, once it lists the model", () => {
    expect(readiness(200, JSON.stringify({ object: "list", data: [{ id: "lin-w0.2" }] }), "lin-w0.2")).toEqual({ ready: true });
    expect(readiness(200, JSON.stringify({ data: [{ id: "runs/study/merges/lin-w0.2" }] }), "lin-w0.2")).toEqual({
      ready: false, why: `it lists "runs/study/merges/lin-w0.2", not "lin-w0.2" (check {model} in the command)`,
    });
    expect(readiness(200, "", "m")).toEqual({ ready: true }); // llama-server's and TGI's /health
    expect(readiness(200, "{}", "m")).toEqual({ ready: true });
    expect(readiness(503, `{"error":"Loading model"}`, "m")).toEqual({ ready: false, why: `HTTP 503 {"error":"Loading model"}` });
  });

  it("take the last lines of a log", () => {
    expect(lastLines("a\n\nb\r\nc\n\n", 2)).toEqual(["b", "c"]);
    expect(lastLines("", 3)).toEqual([]);
  });
});
