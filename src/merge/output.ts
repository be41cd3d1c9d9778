import { existsSync, rmSync } from "node:fs";
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { isRunning } from "../util/process.ts";
import type { MergePlan } from "./plan.ts";
import { TORCH_DTYPE_NAME } from "./safetensors/dtype.ts";
import { writeTokenizerFiles } from "./tokenizer/write.ts";

/** Files copied from the base when `tokenizer_source` is base (or unset), as mergekit's --copy-tokenizer does. */
export const TOKENIZER_FILES = [
  "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "added_tokens.json",
  "merges.txt", "vocab.json", "vocab.txt", "chat_template.jinja", "chat_template.json", "generation_config.json",
];

/**
 * An output folder built beside its target and renamed into place at the end: a failed or interrupted merge
 * leaves nothing where the output should be. Also removed on SIGINT/SIGTERM.
 */
export class StagedOutput {
  private readonly onSignal = (signal: NodeJS.Signals) => {
    rmSync(this.dir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };

  private constructor(
    readonly target: string,
    readonly dir: string,
  ) {
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
  }

  static async create(target: string, force: boolean): Promise<StagedOutput> {
    const absolute = resolve(target);
    if (existsSync(absolute)) {
      if (!(await stat(absolute)).isDirectory()) throw new InputError(`output ${target} exists and is not a folder`);
      if ((await readdir(absolute)).length > 0 && !force) {
        throw new InputError(`output folder ${target} exists and is not empty (pass --force to replace it once the merge succeeds)`);
      }
    }
    await mkdir(dirname(absolute), { recursive: true });
    await removeAbandoned(absolute);
    const dir = join(dirname(absolute), `.${basename(absolute)}.partial-${process.pid}-${Date.now()}`);
    await mkdir(dir);
    return new StagedOutput(absolute, dir);
  }

  async commit(): Promise<void> {
    this.release();
    if (existsSync(this.target)) {
      const old = `${this.dir}.old`;
      await rename(this.target, old);
      await rename(this.dir, this.target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(this.dir, this.target);
    }
  }

  async abort(): Promise<void> {
    this.release();
    await rm(this.dir, { recursive: true, force: true });
  }

  private release(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}

/** Staging folders for `target` left by merges that were killed outright (their process is gone). */
async function removeAbandoned(target: string): Promise<void> {
  const prefix = `.${basename(target)}.partial-`;
  for (const name of await readdir(dirname(target))) {
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (name.startsWith(prefix) && pid && !isRunning(pid)) await rm(join(dirname(target), name), { recursive: true, force: true });
  }
}

/** config.json, tokenizer files, model card and the verbatim merge config, beside the weights. */
export async function writeModelFolderFiles(plan: MergePlan, dir: string, configText: string, title: string): Promise<void> {
  const { donor } = plan;
  if (donor.config) {
    const config = { ...donor.config };
    if (plan.configDtype) config.torch_dtype = TORCH_DTYPE_NAME[plan.configDtype];
    if (plan.layerCount) config[plan.layerCount.key] = plan.layerCount.value;
    if (plan.tokenizer) config.vocab_size = plan.tokenizer.rows; // mergekit's _update_config_vocab
    await writeFile(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  }
  const template = plan.chatTemplate?.template;
  if (plan.tokenizer) {
    // A merged vocabulary: the tokenizer files are written from it; generation_config.json is still the donor's.
    await writeTokenizerFiles(plan.tokenizer, dir, template);
    if (existsSync(join(donor.dir, "generation_config.json"))) await copyFile(join(donor.dir, "generation_config.json"), join(dir, "generation_config.json"));
  } else {
    for (const name of TOKENIZER_FILES) {
      if (template !== undefined && CHAT_TEMPLATE_CARRIERS.includes(name)) continue;
      if (existsSync(join(donor.dir, name))) await copyFile(join(donor.dir, name), join(dir, name));
    }
    if (template !== undefined) await writeChatTemplate(join(donor.dir, "tokenizer_config.json"), dir, template);
  }
  await writeFile(join(dir, "mergekit_config.yml"), configText);
  await writeFile(join(dir, "README.md"), modelCard(plan, configText, title));
}

/** The donor's files that hold a chat template: replaced, not copied, when the recipe sets one. */
const CHAT_TEMPLATE_CARRIERS = ["tokenizer_config.json", "chat_template.jinja", "chat_template.json"];

/**
 * A recipe's chat template, as mergekit leaves it: mergekit sets it on the donor's tokenizer and saves that.
 * With transformers < 4.47 the save puts it in tokenizer_config.json's "chat_template"; transformers 5 (which
 * mergekit 0.1.4 requires) writes it to chat_template.jinja instead. Both are written, with the same text, so
 * every reader (transformers old and new, mergeval's generate stage, which tries chat_template.jinja first)
 * sees this template, and none a stale one of the donor's.
 */
async function writeChatTemplate(donorConfigFile: string, dir: string, template: string): Promise<void> {
  let config: unknown;
  try {
    config = JSON.parse(await readFile(donorConfigFile, "utf8"));
  } catch (err) {
    throw new InputError(`${donorConfigFile}: cannot read it to set the chat template (${(err as Error).message})`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new InputError(`${donorConfigFile}: expected a JSON object`);
  await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ ...config, chat_template: template }, null, 2) + "\n");
  await writeFile(join(dir, "chat_template.jinja"), template);
}

export function modelCard(plan: MergePlan, configText: string, title: string): string {
  const { method, baseRef } = plan;
  const refs = plan.models.map((m) => m.ref);
  const others = refs.filter((r) => r !== baseRef);
  const usingBase = baseRef && method.base !== "input" ? ` using ${baseRef} as a base` : "";
  return [
    "---",
    "base_model:",
    ...refs.map((r) => `- ${r}`),
    "library_name: transformers",
    "tags:",
    "- mergekit",
    "- merge",
    "- mergeval",
    "---",
    `# ${title}`,
    "",
    "This is a merge of pre-trained language models made with mergeval (mergekit-compatible).",
    "",
    "## Merge Details",
    "### Merge Method",
    "",
    `This model was merged using the [${method.title}](${method.url}) merge method${usingBase}.`,
    "",
    "### Models Merged",
    "",
    "The following models were included in the merge:",
    ...others.map((r) => `* ${r}`),
    "",
    "### Configuration",
    "",
    "The following YAML configuration was used to produce this model:",
    "",
    "```yaml",
    configText.trimEnd(),
    "```",
    "",
  ].join("\n");
}
