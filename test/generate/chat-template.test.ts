import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { writeTinyOnnxModel } from "../../src/fixtures/tiny-onnx.ts";
import { compileChatTemplate, loadChatTemplate } from "../../src/generate/chat-template.ts";
import type { ChatMessage } from "../../src/generate/types.ts";
import { expectInputError } from "../expect-input-error.ts";

/**
 * The default template of Cohere's Command-R, which Aya 23 ships unchanged (tokenizer_config.json, as the
 * "default" entry of a list of named templates beside "tool_use" and "rag").
 */
const COMMAND_R_TEMPLATE =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  "{% elif false == true %}{% set loop_messages = messages %}{% set system_message = 'You are Command-R, a brilliant, sophisticated, AI-assistant trained to assist human users by providing thorough responses. You are trained by Cohere.' %}" +
  "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
  "{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}" +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% set content = message['content'] %}{% if message['role'] == 'user' %}" +
  "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}" +
  "{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}" +
  "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}";

/** The ChatML template of the transformers chat-templating guide (Qwen, OpenHermes …). */
const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

let dir: string;
let n = 0;
const folder = async (files: Record<string, unknown>): Promise<string> => {
  const path = join(dir, `model-${n++}`);
  await mkdir(path, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(path, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return path;
};
const user = (content: string): ChatMessage => ({ role: "user", content });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-chat-template-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("chat templates, rendered as Hugging Face renders them", () => {
  it("renders Aya 23 / Command-R prompts exactly (named templates in tokenizer_config.json, default used)", async () => {
    const aya = await folder({
      "tokenizer_config.json": {
        add_bos_token: true, add_eos_token: false, bos_token: "<BOS_TOKEN>", eos_token: "<|END_OF_TURN_TOKEN|>", pad_token: "<PAD>",
        unk_token: null, tokenizer_class: "CohereTokenizer",
        chat_template: [
          { name: "default", template: COMMAND_R_TEMPLATE },
          { name: "tool_use", template: "{{ bos_token }}tool use: not what a plain chat renders" },
          { name: "rag", template: "{{ bos_token }}rag: not what a plain chat renders" },
        ],
      },
    });
    const template = await loadChatTemplate(aya);
    expect(template.source).toBe(join(aya, "tokenizer_config.json#default"));
    expect(template.specialTokens).toEqual({ bos_token: "<BOS_TOKEN>", eos_token: "<|END_OF_TURN_TOKEN|>", pad_token: "<PAD>" });
    expect(template.render([user("Hello, how are you?")])).toBe(
      "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
    );
    expect(
      template.render([
        { role: "system", content: "Answer in French." },
        user("  Hi  "),
        { role: "assistant", content: "Bonjour !" },
        user("Why is the sky blue?"),
      ]),
    ).toBe(
      "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Answer in French.<|END_OF_TURN_TOKEN|>" +
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hi<|END_OF_TURN_TOKEN|>" +
        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Bonjour !<|END_OF_TURN_TOKEN|>" +
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Why is the sky blue?<|END_OF_TURN_TOKEN|>" +
        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
    );
    // The template's own raise_exception becomes an InputError naming where the template came from.
    const err = (() => {
      try {
        template.render([user("a"), user("b")]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain("tokenizer_config.json#default");
    expect((err as Error).message).toContain("Conversation roles must alternate");
  });

  it("renders ChatML exactly, from chat_template.jinja, which wins over tokenizer_config.json", async () => {
    const chatml = await folder({
      "chat_template.jinja": CHATML_TEMPLATE,
      "tokenizer_config.json": { eos_token: { __type: "AddedToken", content: "<|im_end|>" }, chat_template: "{{ 'the older template' }}" },
    });
    const template = await loadChatTemplate(chatml);
    expect(template.source).toBe(join(chatml, "chat_template.jinja"));
    expect(template.specialTokens).toEqual({ eos_token: "<|im_end|>" });
    expect(template.render([{ role: "system", content: "You are helpful." }, user("Hello")])).toBe(
      "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(template.render([user("Bonjour"), { role: "assistant", content: "Salut" }, user("Ça va ?")])).toBe(
      "<|im_start|>user\nBonjour<|im_end|>\n<|im_start|>assistant\nSalut<|im_end|>\n<|im_start|>user\nÇa va ?<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("reads chat_template.json (the processor format) when there is no .jinja file", async () => {
    const json = await folder({ "chat_template.json": { chat_template: CHATML_TEMPLATE } });
    const template = await loadChatTemplate(json);
    expect(template.source).toBe(join(json, "chat_template.json"));
    expect(template.render([user("Hi")])).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  });

  it("renders what @huggingface/transformers' apply_chat_template renders", async () => {
    const tiny = join(dir, "tiny");
    await writeTinyOnnxModel(tiny);
    env.allowRemoteModels = false;
    const tokenizer = await AutoTokenizer.from_pretrained(tiny, { local_files_only: true });
    const template = await loadChatTemplate(tiny);
    for (const messages of [[user("why is the sky blue")], [{ role: "system" as const, content: "be brief" }, user("hello"), { role: "assistant" as const, content: "yes" }, user("what")]]) {
      expect(template.render(messages)).toBe(tokenizer.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }));
    }
  });

  it("has no fallback: a folder without a template fails at render, naming the folder", async () => {
    const plain = await folder({ "tokenizer_config.json": { bos_token: "<s>" } });
    const template = await loadChatTemplate(plain);
    expect(template.template).toBeUndefined();
    expect(() => template.render([user("hello")])).toThrow(InputError);
    expect(() => template.render([user("hello")])).toThrow(`${plain} has no chat template`);
    const empty = await loadChatTemplate(await folder({}));
    expect(() => empty.render([user("hello")])).toThrow(InputError);
    expect(empty.specialTokens).toEqual({});
  });

  it("rejects broken template files with an InputError naming the file", async () => {
    await expectInputError(loadChatTemplate(await folder({ "chat_template.jinja": "{% for m in messages %}{{ m.content }}" })), "chat_template.jinja", "does not parse");
    await expectInputError(loadChatTemplate(await folder({ "tokenizer_config.json": "{ not json" })), "tokenizer_config.json", "not valid JSON");
    await expectInputError(
      loadChatTemplate(await folder({ "tokenizer_config.json": { chat_template: [{ name: "tool_use", template: "x" }, { name: "rag", template: "y" }] } })),
      "tokenizer_config.json",
      'none is "default"',
      "rag, tool_use",
    );
    expect(() => compileChatTemplate("{{ x", {}, "inline")).toThrow(InputError);
  });
});
