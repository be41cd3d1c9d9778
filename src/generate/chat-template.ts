/**
 * Chat prompts rendered with the model's own template, as Hugging Face renders them: the Jinja template from the
 * model folder through @huggingface/jinja (the engine @huggingface/transformers uses), with
 * `add_generation_prompt: true` and the special tokens of tokenizer_config.json.
 *
 * Where the template comes from, first found wins (newer exports keep it out of tokenizer_config.json):
 *   1. `chat_template.jinja`, the raw template;
 *   2. `chat_template.json`, `{"chat_template": "..."}` (the processor format);
 *   3. `"chat_template"` in `tokenizer_config.json`: a string, or a list of named templates
 *      (`[{"name": "default", "template": ...}, {"name": "tool_use", ...}]`, as Command-R and Aya 23 ship), of
 *      which `default` is used, as transformers does without tools.
 *
 * No fallback: a folder without a template cannot render any chat, and `render` says so with an InputError
 * naming the folder. Concatenating the user content instead would silently score a base model on prompts it was
 * never trained to read, which is not the comparison this tool makes.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { errorMessage, InputError } from "../errors.ts";
import type { ChatMessage } from "./types.ts";

/** The tokens transformers passes to a template (its SPECIAL_TOKEN_ATTRIBUTES, plus the additional ones). */
const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

export interface ChatTemplate {
  /** Where the template was read from (a path, with `#name` for a named template); undefined when none was found. */
  readonly source: string | undefined;
  /** The template text; undefined when the folder has none. */
  readonly template: string | undefined;
  /** bos_token, eos_token … as the template sees them. */
  readonly specialTokens: Readonly<Record<string, string | string[]>>;
  /** The prompt exactly as the model sees it, ending with the assistant's turn opener. */
  render(messages: readonly ChatMessage[]): string;
}

/** Reads a model folder's chat template and special tokens; a broken template fails here, a missing one at render. */
export async function loadChatTemplate(dir: string): Promise<ChatTemplate> {
  const tokenizerConfig = await readJson(join(dir, "tokenizer_config.json"));
  const specialTokens = specialTokensOf(tokenizerConfig ?? {}, join(dir, "tokenizer_config.json"));
  const found = await findTemplate(dir, tokenizerConfig);
  if (!found) {
    return {
      source: undefined,
      template: undefined,
      specialTokens,
      render() {
        throw new InputError(
          `${dir} has no chat template (looked for chat_template.jinja, chat_template.json and "chat_template" in ` +
            "tokenizer_config.json); prompts are only rendered with the model's own template",
        );
      },
    };
  }
  return compileChatTemplate(found.template, specialTokens, found.source);
}

/** A template string ready to render; `source` names it in error messages. */
export function compileChatTemplate(template: string, specialTokens: Readonly<Record<string, string | string[]>>, source: string): ChatTemplate {
  let compiled: Template;
  try {
    compiled = new Template(template);
  } catch (err) {
    throw new InputError(`${source}: the chat template does not parse: ${errorMessage(err)}`);
  }
  return {
    source,
    template,
    specialTokens,
    render(messages) {
      try {
        return compiled.render({
          messages: messages.map(({ role, content }) => ({ role, content })),
          add_generation_prompt: true,
          // What transformers passes when no tools or documents are given (templates test `tools is none`).
          tools: null,
          documents: null,
          ...specialTokens,
        });
      } catch (err) {
        // Templates reject what they cannot render (raise_exception: roles not alternating, a system turn …).
        throw new InputError(`${source}: the chat template cannot render these messages: ${errorMessage(err)}`);
      }
    },
  };
}

async function findTemplate(dir: string, tokenizerConfig: Record<string, unknown> | undefined, processorFile = true): Promise<{ template: string; source: string } | undefined> {
  const jinjaFile = join(dir, "chat_template.jinja");
  const jinja = await readText(jinjaFile);
  if (jinja !== undefined) return { template: jinja, source: jinjaFile };
  const jsonFile = join(dir, "chat_template.json");
  const json = processorFile ? await readJson(jsonFile) : undefined;
  if (json !== undefined) {
    const template = pickTemplate(json.chat_template, jsonFile);
    if (template) return template;
  }
  return pickTemplate(tokenizerConfig?.chat_template, join(dir, "tokenizer_config.json"));
}

/**
 * A folder's chat template as transformers' tokenizer reads it (what mergekit's `auto` counts): chat_template.jinja,
 * else tokenizer_config.json's (a named list gives its "default"); chat_template.json is a processor file the
 * tokenizer does not read.
 */
export async function tokenizerChatTemplate(dir: string): Promise<string | undefined> {
  return (await findTemplate(dir, await readJson(join(dir, "tokenizer_config.json")), false))?.template;
}

function pickTemplate(value: unknown, file: string): { template: string; source: string } | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return { template: value, source: file };
  if (Array.isArray(value)) {
    const named = new Map<string, string>();
    for (const entry of value as unknown[]) {
      const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
      if (typeof name !== "string" || typeof template !== "string") throw new InputError(`${file}: chat_template entries must be {"name", "template"} strings`);
      named.set(name, template);
    }
    const template = named.get("default");
    if (template === undefined) {
      throw new InputError(`${file}: chat_template has named templates (${[...named.keys()].sort().join(", ")}) but none is "default"`);
    }
    return { template, source: `${file}#default` };
  }
  throw new InputError(`${file}: chat_template must be a string or a list of named templates`);
}

/** Tokens are strings, or objects with `content` (AddedToken, `__type` or not); additional_special_tokens a list. */
function specialTokensOf(config: Record<string, unknown>, file: string): Record<string, string | string[]> {
  const tokens: Record<string, string | string[]> = {};
  const content = (value: unknown, key: string): string | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (typeof value === "object" && typeof (value as { content?: unknown }).content === "string") return (value as { content: string }).content;
    throw new InputError(`${file}: ${key} is neither a string nor a token object with "content"`);
  };
  for (const key of SPECIAL_TOKEN_KEYS) {
    const token = content(config[key], key);
    if (token) tokens[key] = token;
  }
  const additional = config.additional_special_tokens;
  if (Array.isArray(additional)) {
    tokens.additional_special_tokens = additional.map((t, i) => content(t, `additional_special_tokens[${i}]`)).filter((t): t is string => t !== undefined);
  }
  return tokens;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InputError(`cannot read ${file}: ${errorMessage(err)}`);
  }
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  const text = await readText(file);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file} is not valid JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InputError(`${file} must hold a JSON object`);
  return value as Record<string, unknown>;
}
