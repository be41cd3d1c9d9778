import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { loadChatTemplate } from "../../src/generate/chat-template.ts";
import { CHAT_TEMPLATE_PRESET_NAMES, parseChatTemplateSetting, pluralityTemplate } from "../../src/merge/chat-templates.ts";
import { parseMergeConfig } from "../../src/merge/config.ts";
import { runMerge, type MergeSummary } from "../../src/merge/index.ts";
import { runCli } from "../run-cli.ts";

const SHAPE: TinyModelShape = { vocab: 16, hidden: 8, intermediate: 12, layers: 2, dtype: "F32" };
let root: string;

/** A template of a model: longer than 20 characters, distinct per tag. */
const templateOf = (tag: string) => `{% for m in messages %}[${tag}] {{ m['content'] }}\n{% endfor %}`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-chat-"));
  for (const [name, p] of [["base", 0], ["a", 0.02], ["b", 0.03], ["c", 0.04]] as const) await writeTinyModel(join(root, name), name, p, SHAPE);
  // The base carries a stale template of its own in chat_template.jinja: a set template must replace it.
  await writeFile(join(root, "base", "chat_template.jinja"), templateOf("base"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function merge(yaml: string, options: { dryRun?: boolean } = {}): Promise<{ out: string; summary: MergeSummary }> {
  const name = `case-${++counter}`;
  const configFile = join(root, `${name}.yml`);
  await writeFile(configFile, yaml);
  const out = join(root, "out", name);
  const summary = await runMerge({ configFile, outDir: out, cwd: root, ...options });
  return { out, summary };
}

const recipe = (chatTemplate: string, models = ["a", "b"]) =>
  `models:\n${models.map((m) => `  - {model: ${m}, parameters: {weight: 1}}`).join("\n")}\nmerge_method: linear\nbase_model: base\nchat_template: ${chatTemplate}\n`;

const conversation = [
  { role: "user" as const, content: "Hi there" },
  { role: "assistant" as const, content: "Hello!" },
  { role: "user" as const, content: "What is 2+2?" },
];

/**
 * Each preset on a 2-turn conversation (user, assistant, user) as the generate stage renders it: the merged
 * folder's template, add_generation_prompt on, bos "<s>" and eos "</s>" from the tiny models' tokenizer_config.
 */
const EXPECTED: Record<string, string> = {
  chatml: "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  llama3:
    "<s><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  mistral: "<s> [INST] Hi there [/INST] Hello!</s> [INST] What is 2+2? [/INST]",
  alpaca:
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
    "### Instruction:\nHi there\n\n### Response:\nHello!\n\n### Instruction:\nWhat is 2+2?\n\n### Response:\n",
  exaone: "[|system|][|endofturn|]\n[|user|]Hi there\n[|assistant|]Hello![|endofturn|]\n[|user|]What is 2+2?\n[|assistant|]",
};

describe("chat_template in a recipe", () => {
  it("the presets are mergekit's five", () => {
    expect(CHAT_TEMPLATE_PRESET_NAMES).toEqual(["alpaca", "chatml", "exaone", "llama3", "mistral"]);
    expect(Object.keys(EXPECTED).sort()).toEqual(CHAT_TEMPLATE_PRESET_NAMES);
  });

  it.each(Object.keys(EXPECTED))("preset %s: written to the merged folder, which the generate stage renders with", async (preset) => {
    const { out, summary } = await merge(recipe(preset));
    expect(summary.warnings).toEqual([]);
    const template = await loadChatTemplate(out);
    expect(template.source).toBe(join(out, "chat_template.jinja"));
    expect(template.render(conversation)).toBe(EXPECTED[preset]);
    // The same text in tokenizer_config.json, beside the donor's other keys.
    const config = JSON.parse(await readFile(join(out, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    expect(config.chat_template).toBe(template.template);
    expect(config).toMatchObject({ bos_token: "<s>", eos_token: "</s>", model_max_length: 128 });
  });

  it("system messages: mistral folds it into the first [INST], alpaca makes it the preamble, chatml/llama3/exaone give it a turn", async () => {
    const withSystem = [{ role: "system" as const, content: "Be brief." }, ...conversation.slice(0, 1)];
    const render = async (preset: string) => (await loadChatTemplate((await merge(recipe(preset))).out)).render(withSystem);
    expect(await render("mistral")).toBe("<s> [INST] Be brief.\n\nHi there [/INST]");
    expect(await render("alpaca")).toBe("Be brief.\n\n### Instruction:\nHi there\n\n### Response:\n");
    expect(await render("chatml")).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
    expect(await render("exaone")).toBe("[|system|]Be brief.[|endofturn|]\n[|user|]Hi there\n[|assistant|]");
    expect(await render("llama3")).toBe(
      "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    const mistral = await loadChatTemplate((await merge(recipe("mistral"))).out);
    expect(() => mistral.render([conversation[0]!, conversation[0]!])).toThrow(/alternate user, assistant/);
  });

  it("a literal template is written verbatim (tokenizer_config.json and chat_template.jinja); the donor's own is not copied", async () => {
    const literal = "{% for message in messages %}<<{{ message['role'] }}>> {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}<<assistant>>{% endif %}";
    const { out, summary } = await merge(recipe(JSON.stringify(literal)));
    expect(summary.notes.some((n) => /chat_template: the recipe's own template/.test(n))).toBe(true);
    expect(await readFile(join(out, "chat_template.jinja"), "utf8")).toBe(literal);
    expect((JSON.parse(await readFile(join(out, "tokenizer_config.json"), "utf8")) as { chat_template: string }).chat_template).toBe(literal);
    expect((await loadChatTemplate(out)).render(conversation.slice(0, 1))).toBe("<<user>> Hi there\n<<assistant>>");
  });

  it("without chat_template the donor's tokenizer files are copied as they are", async () => {
    const yaml = recipe("chatml").replace("chat_template: chatml\n", "");
    const { out } = await merge(yaml);
    expect(await readFile(join(out, "chat_template.jinja"), "utf8")).toBe(templateOf("base"));
    expect(await readFile(join(out, "tokenizer_config.json"), "utf8")).toBe(await readFile(join(root, "base", "tokenizer_config.json"), "utf8"));
  });

  it("auto takes the template most input models share, stripped, as mergekit does", async () => {
    // base: templateOf("base") in chat_template.jinja; a: X in tokenizer_config.json; b and c: Y, one as a
    // list of named templates whose "default" is Y (what transformers' tokenizer reads as its template).
    const setConfig = async (model: string, chatTemplate: unknown) => {
      const file = join(root, model, "tokenizer_config.json");
      const config = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...config, chat_template: chatTemplate }, null, 2));
    };
    await setConfig("a", templateOf("X"));
    await setConfig("b", `  ${templateOf("Y")}\n\n`);
    await setConfig("c", [{ name: "tool_use", template: templateOf("tools") }, { name: "default", template: templateOf("Y") }]);
    const { out, summary } = await merge(recipe("auto", ["a", "b", "c"]));
    expect(await readFile(join(out, "chat_template.jinja"), "utf8")).toBe(templateOf("Y").trim());
    expect(summary.notes.join("\n")).toMatch(/auto: the template of 2 of 4 models \(b, c\)/);
    // One each: the tie goes to the first met, the base's (mergekit's pick among ties depends on a Python set).
    const tie = await merge(recipe("auto", ["a"]));
    expect(await readFile(join(tie.out, "chat_template.jinja"), "utf8")).toBe(templateOf("base").trim());
    for (const m of ["a", "b", "c"]) await setConfig(m, undefined);
  });

  it("auto with no template among the inputs writes none and says so; the donor's files stay as they are", async () => {
    await rm(join(root, "base", "chat_template.jinja"));
    try {
      const { out, summary } = await merge(recipe("auto"));
      expect(summary.warnings.join("\n")).toMatch(/auto found no chat template in any input model \(base, a, b\)/);
      expect(existsSync(join(out, "chat_template.jinja"))).toBe(false);
      expect(await readFile(join(out, "tokenizer_config.json"), "utf8")).toBe(await readFile(join(root, "base", "tokenizer_config.json"), "utf8"));
    } finally {
      await writeFile(join(root, "base", "chat_template.jinja"), templateOf("base"));
    }
  });

  it("pluralityTemplate: most common stripped template, ties to the first met, blanks ignored", () => {
    expect(pluralityTemplate(["x ", undefined, "y", " y", "x"])).toEqual({ template: "x", count: 2 });
    expect(pluralityTemplate(["", "  ", undefined])).toBeUndefined();
    expect(pluralityTemplate(["b", "a", "a", "b"])).toEqual({ template: "b", count: 2 });
  });

  it("what mergekit refuses is refused: a short or brace-less string that is no preset (with a suggestion)", () => {
    const parse = (value: string) => () => parseMergeConfig(recipe(JSON.stringify(value)), "t.yml");
    expect(parse("chatm")).toThrow(/t\.yml:6: chat_template: "chatm" is not auto, not a preset \(alpaca, chatml, exaone, llama3, mistral\) and not a Jinja template .* — did you mean "chatml"\?$/);
    expect(parse("{{ messages }}")).toThrow(/at least 20 characters long/);
    expect(parse("a long text without any braces in it")).toThrow(/contains "\{"/);
    expect(parseChatTemplateSetting("{{ messages[0]['content'] }}", "x")).toEqual({ kind: "literal", template: "{{ messages[0]['content'] }}" });
    expect(parseChatTemplateSetting("auto", "x")).toEqual({ kind: "auto" });
    expect(parseChatTemplateSetting("llama3", "x")).toEqual({ kind: "preset", name: "llama3" });
  });

  it("a template @huggingface/jinja cannot parse is written (as mergekit would) with a warning", async () => {
    const broken = "{% for m in messages %}{{ m['content'] }}"; // no endfor
    const { out, summary } = await merge(recipe(JSON.stringify(broken)));
    expect(summary.warnings.join("\n")).toMatch(/:6: chat_template: the template does not parse in @huggingface\/jinja/);
    expect(await readFile(join(out, "chat_template.jinja"), "utf8")).toBe(broken);
  });

  it("a donor without tokenizer_config.json gets no template, with a warning (mergekit: no tokenizer found)", async () => {
    await writeTinyModel(join(root, "bare"), "bare", 0, SHAPE);
    await rm(join(root, "bare", "tokenizer_config.json"));
    const { out, summary } = await merge(recipe("chatml").replace("base_model: base", "base_model: bare"));
    expect(summary.warnings.join("\n")).toMatch(/the donor "bare" .* has no tokenizer_config\.json, so no template is written/);
    expect(existsSync(join(out, "chat_template.jinja"))).toBe(false);
  });

  it("--dry-run names the template it would write", async () => {
    const configFile = join(root, "dry.yml");
    await writeFile(configFile, recipe("llama3"));
    const result = await runCli(["merge", configFile, join(root, "out", "dry"), "--dry-run"], { cwd: root });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/chat_template: preset llama3, written to tokenizer_config\.json and chat_template\.jinja/);
    expect(existsSync(join(root, "out", "dry"))).toBe(false);
  });
});
