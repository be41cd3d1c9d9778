import { existsSync } from "node:fs";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../../errors.ts";
import type { TokenizerPlan } from "./build.ts";
import { TOKENIZER_JSON } from "./vocab.ts";

/**
 * The output tokenizer of a tokenizer merge, as mergekit's `tokenizer.save_pretrained(out)` leaves it:
 * tokenizer.json with the merged vocabulary; tokenizer_config.json from the tokenizer's source folder with
 * `added_tokens_decoder` listing every added token (and the recipe's chat template, if any);
 * special_tokens_map.json and the source's chat template files as they are. Slow-tokenizer files
 * (tokenizer.model, vocab.json, merges.txt, added_tokens.json) are copied only when the vocabulary is the
 * source's own: otherwise they would describe another vocabulary than tokenizer.json.
 */

const SLOW_FILES = ["tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json"];
const TEMPLATE_FILES = ["chat_template.jinja", "chat_template.json"];

export async function writeTokenizerFiles(plan: TokenizerPlan, dir: string, chatTemplate: string | undefined): Promise<void> {
  const from = plan.sourceDir;
  await writeFile(join(dir, TOKENIZER_JSON), JSON.stringify(plan.output.toJson(), null, 2) + "\n");

  const configFile = join(from, "tokenizer_config.json");
  let config: Record<string, unknown> = {};
  if (existsSync(configFile)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(configFile, "utf8"));
    } catch (err) {
      throw new InputError(`${configFile}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new InputError(`${configFile}: expected a JSON object`);
    config = parsed as Record<string, unknown>;
  }
  const decoder = Object.fromEntries(
    plan.output.addedTokens().map(({ id, content, lstrip, normalized, rstrip, single_word, special }) => [String(id), { content, lstrip, normalized, rstrip, single_word, special }]),
  );
  const out: Record<string, unknown> = { ...config, added_tokens_decoder: decoder };
  if (chatTemplate !== undefined) out.chat_template = chatTemplate;
  await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(out, null, 2) + "\n");

  const copies = ["special_tokens_map.json", ...(plan.unchanged ? SLOW_FILES : []), ...(chatTemplate === undefined ? TEMPLATE_FILES : [])];
  for (const name of copies) if (existsSync(join(from, name))) await copyFile(join(from, name), join(dir, name));
  if (chatTemplate !== undefined) await writeFile(join(dir, "chat_template.jinja"), chatTemplate);
}
