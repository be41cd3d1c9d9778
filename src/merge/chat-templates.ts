import { Template } from "@huggingface/jinja";
import { errorMessage, InputError } from "../errors.ts";
import { tokenizerChatTemplate } from "../generate/chat-template.ts";
import { closestName } from "../util/suggest.ts";

/**
 * A recipe's `chat_template:`, as mergekit reads it (mergekit/merge.py, _set_chat_template):
 *   - `auto`: the template most input models share (plurality, each model's template stripped);
 *   - a preset name: one of the templates mergekit ships (mergekit/_data/chat_templates/*.jinja);
 *   - anything else is a literal Jinja template, which must be at least 20 characters long and contain "{"
 *     (mergekit's own test of a template; shorter text is "Invalid chat template").
 *
 * The presets below are written for mergeval from the public formats of each family (ChatML, Meta Llama 3,
 * Mistral [INST] v1, Stanford Alpaca, LG EXAONE 3), with explicit whitespace control so they render the same
 * with or without trim_blocks. Where mergekit's own preset files render differently from the published format
 * under transformers (trim_blocks + lstrip_blocks), these follow the published format; see the README.
 */

export const CHAT_TEMPLATE_PRESETS: Readonly<Record<string, string>> = {
  chatml: [
    "{%- for message in messages -%}",
    "{{- '<|im_start|>' ~ message['role'] ~ '\\n' ~ message['content'] ~ '<|im_end|>\\n' -}}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}",
  ].join("\n"),

  llama3: [
    "{{- bos_token -}}",
    "{%- for message in messages -%}",
    "{{- '<|start_header_id|>' ~ message['role'] ~ '<|end_header_id|>\\n\\n' ~ (message['content'] | trim) ~ '<|eot_id|>' -}}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}",
  ].join("\n"),

  mistral: [
    "{%- if messages and messages[0]['role'] == 'system' -%}",
    "{%- set system = messages[0]['content'] -%}",
    "{%- set turns = messages[1:] -%}",
    "{%- else -%}",
    "{%- set system = none -%}",
    "{%- set turns = messages -%}",
    "{%- endif -%}",
    "{{- bos_token -}}",
    "{%- for message in turns -%}",
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}",
    "{{- raise_exception('mistral template: after an optional first system message, turns must alternate user, assistant, user, ...') -}}",
    "{%- endif -%}",
    "{%- if message['role'] == 'user' -%}",
    "{%- if loop.first and system is not none -%}{{- ' [INST] ' ~ system ~ '\\n\\n' ~ message['content'] ~ ' [/INST]' -}}",
    "{%- else -%}{{- ' [INST] ' ~ message['content'] ~ ' [/INST]' -}}{%- endif -%}",
    "{%- elif message['role'] == 'assistant' -%}",
    "{{- ' ' ~ message['content'] ~ eos_token -}}",
    "{%- else -%}",
    "{{- raise_exception('mistral template: only user and assistant turns after an optional first system message') -}}",
    "{%- endif -%}",
    "{%- endfor -%}",
  ].join("\n"),

  alpaca: [
    "{%- set systems = messages | selectattr('role', 'equalto', 'system') | list -%}",
    "{%- if systems -%}{{- (systems | last)['content'] | trim -}}",
    "{%- else -%}{{- 'Below is an instruction that describes a task. Write a response that appropriately completes the request.' -}}{%- endif -%}",
    "{%- for message in messages -%}",
    "{%- if message['role'] == 'user' -%}{{- '\\n\\n### Instruction:\\n' ~ (message['content'] | trim) -}}",
    "{%- elif message['role'] == 'user_context' -%}{{- '\\n\\n### Input:\\n' ~ (message['content'] | trim) -}}",
    "{%- elif message['role'] == 'assistant' -%}{{- '\\n\\n### Response:\\n' ~ (message['content'] | trim) -}}",
    "{%- elif message['role'] != 'system' -%}{{- raise_exception('alpaca template: roles are system, user, user_context and assistant') -}}",
    "{%- endif -%}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt and messages and messages[-1]['role'] != 'assistant' -%}{{- '\\n\\n### Response:\\n' -}}{%- endif -%}",
  ].join("\n"),

  exaone: [
    "{%- for message in messages -%}",
    "{%- if loop.first and message['role'] != 'system' -%}{{- '[|system|][|endofturn|]\\n' -}}{%- endif -%}",
    "{{- '[|' ~ message['role'] ~ '|]' ~ message['content'] -}}",
    "{%- if message['role'] == 'user' -%}{{- '\\n' -}}{%- else -%}{{- '[|endofturn|]\\n' -}}{%- endif -%}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt -%}{{- '[|assistant|]' -}}{%- endif -%}",
  ].join("\n"),
};

export const CHAT_TEMPLATE_PRESET_NAMES = Object.keys(CHAT_TEMPLATE_PRESETS).sort();

export type ChatTemplateSetting = { kind: "auto" } | { kind: "preset"; name: string } | { kind: "literal"; template: string };

/** How mergekit reads the `chat_template` string; throws InputError (prefixed with `where`) for what it rejects. */
export function parseChatTemplateSetting(value: string, where: string): ChatTemplateSetting {
  if (value === "auto") return { kind: "auto" };
  if (Object.hasOwn(CHAT_TEMPLATE_PRESETS, value)) return { kind: "preset", name: value };
  if (value.length < 20 || !value.includes("{")) {
    const near = closestName(value, [...CHAT_TEMPLATE_PRESET_NAMES, "auto"]);
    throw new InputError(
      `${where}: chat_template: "${value}" is not auto, not a preset (${CHAT_TEMPLATE_PRESET_NAMES.join(", ")}) and not a Jinja template ` +
        `(mergekit takes a literal template only if it is at least 20 characters long and contains "{", else "Invalid chat template")` +
        (near ? ` — did you mean "${near}"?` : ""),
    );
  }
  return { kind: "literal", template: value };
}

/**
 * mergekit's `auto`: every referenced model's template, stripped, counted; the most common wins. mergekit takes
 * its models from a Python set, so between equally common templates its pick can change from run to run; here
 * the tie goes to the template met first, in the order `candidates` are given (the base, then the recipe's order).
 */
export function pluralityTemplate(templates: readonly (string | undefined)[]): { template: string; count: number } | undefined {
  const counts = new Map<string, number>();
  for (const t of templates) {
    const stripped = t?.trim();
    if (stripped) counts.set(stripped, (counts.get(stripped) ?? 0) + 1);
  }
  let best: { template: string; count: number } | undefined;
  for (const [template, count] of counts) if (!best || count > best.count) best = { template, count };
  return best;
}

export interface ResolvedChatTemplate {
  template: string;
  /** How it was chosen, for the dry run: "preset chatml", "auto: the template of 2 of 3 models (…)", "literal (57 characters)". */
  origin: string;
}

/**
 * The template a recipe writes into the output, or why none is written (`auto` with no template among the
 * inputs: mergekit then leaves the donor's tokenizer as it is).
 */
export async function resolveChatTemplate(
  setting: ChatTemplateSetting,
  models: readonly { ref: string; dir: string }[],
): Promise<{ resolved: ResolvedChatTemplate } | { none: string }> {
  if (setting.kind === "preset") return { resolved: { template: CHAT_TEMPLATE_PRESETS[setting.name]!, origin: `preset ${setting.name}` } };
  if (setting.kind === "literal") return { resolved: { template: setting.template, origin: `the recipe's own template (${setting.template.length} characters)` } };
  const found = await Promise.all(models.map(async (m) => ({ ref: m.ref, template: (await tokenizerChatTemplate(m.dir))?.trim() || undefined })));
  const best = pluralityTemplate(found.map((f) => f.template));
  if (!best) return { none: `chat_template: auto found no chat template in any input model (${models.map((m) => m.ref).join(", ")}), so none is set (as mergekit does)` };
  const holders = found.filter((f) => f.template === best.template).map((f) => f.ref);
  return { resolved: { template: best.template, origin: `auto: the template of ${best.count} of ${models.length} models (${holders.join(", ")})` } };
}

/** A parse failure of `template` in @huggingface/jinja (the engine the generate stage renders with), if any. */
export function templateParseProblem(template: string): string | undefined {
  try {
    new Template(template);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
