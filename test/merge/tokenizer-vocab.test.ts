import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { TokenizerData } from "../../src/merge/tokenizer/vocab.ts";

/** tokenizer.json handling for vocabulary merges: the `tokenizers` library's add_tokens and mergekit's stripping. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mergeval-vocab-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

let counter = 0;
async function tokenizer(model: Record<string, unknown>, added: unknown[] = []): Promise<TokenizerData> {
  const folder = join(dir, `t${++counter}`);
  await mkdir(folder);
  await writeFile(join(folder, "tokenizer.json"), JSON.stringify({ version: "1.0", added_tokens: added, normalizer: null, model }));
  return TokenizerData.read(folder, "test");
}

const bpe = (vocab: Record<string, number>, merges: unknown[] = []) => ({ type: "BPE", vocab, merges });

describe("TokenizerData", () => {
  it("get_vocab is the model's tokens and the added ones", async () => {
    const t = await tokenizer(bpe({ a: 0, b: 1, c: 2 }), [special(3, "<s>")]);
    expect([...t.vocab()]).toEqual([["a", 0], ["b", 1], ["c", 2], ["<s>", 3]]);
    expect(t.isAdded("<s>")).toBe(true);
    expect(t.isAdded("a")).toBe(false);
  });

  it("a new token takes the next id after the model's vocabulary and the added tokens above it", async () => {
    const above = await tokenizer(bpe({ a: 0, b: 1, c: 2 }), [special(3, "<s>"), special(4, "</s>")]);
    expect(above.addToken("<x>")).toEqual({ id: 5, isNew: true });
    expect(above.addToken("<y>")).toEqual({ id: 6, isNew: true });
    // Added tokens inside the model's vocabulary do not move the next id past it.
    const inside = await tokenizer(bpe({ "<s>": 0, a: 1, b: 2 }), [special(0, "<s>")]);
    expect(inside.addToken("<x>")).toEqual({ id: 3, isNew: true });
    const none = await tokenizer(bpe({ a: 0, b: 1 }));
    expect(none.addToken("<x>")).toEqual({ id: 2, isNew: true });
  });

  it("adding a token of the model's vocabulary makes it an added token at its id; an added one is left as it is", async () => {
    const t = await tokenizer(bpe({ a: 0, b: 1 }), [special(2, "<s>")]);
    expect(t.addToken("b")).toEqual({ id: 1, isNew: false });
    expect(t.addedTokens()).toEqual([
      { id: 1, content: "b", single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
      special(2, "<s>"),
    ]);
    expect(t.addToken({ content: "<s>", single_word: true, lstrip: true, rstrip: true, normalized: true, special: false })).toEqual({ id: 2, isNew: false });
    expect(t.addedTokens()[1]).toEqual(special(2, "<s>"));
    expect(t.vocab().size).toBe(3);
  });

  it("strips tokens past vocab_size (BPE), with the merges that use or make them", async () => {
    const t = await tokenizer(bpe({ a: 0, b: 1, ab: 2, c: 3, abc: 4, d: 5 }, ["a b", "ab c", ["c", "d"]]), [special(6, "<pad>")]);
    expect(t.strip(4, "test").sort()).toEqual(["<pad>", "abc", "d"]);
    const json = t.toJson() as { model: { vocab: Record<string, number>; merges: unknown[] }; added_tokens: unknown[] };
    expect(json.model.vocab).toEqual({ a: 0, b: 1, ab: 2, c: 3 });
    expect(json.model.merges).toEqual(["a b"]);
    expect(json.added_tokens).toEqual([]);
    expect(t.addToken("<x>")).toEqual({ id: 4, isNew: true });
    expect(t.strip(100, "test")).toEqual([]);
  });

  it("reads a Unigram vocabulary (a list whose index is the id); refuses to strip it, as mergekit", async () => {
    const t = await tokenizer({ type: "Unigram", unk_id: 0, vocab: [["<unk>", 0], ["▁a", -1], ["b", -2]] });
    expect([...t.vocab()]).toEqual([["<unk>", 0], ["▁a", 1], ["b", 2]]);
    expect(t.addToken("<x>")).toEqual({ id: 3, isNew: true });
    expect((t.toJson() as { model: { vocab: unknown } }).model.vocab).toEqual([["<unk>", 0], ["▁a", -1], ["b", -2]]);
    expect(() => t.strip(2, "model x")).toThrow(InputError);
    expect(() => t.strip(2, "model x")).toThrow(/model x: .*has type Unigram; only BPE is currently supported for tokenizer merge/);
  });

  it("refuses a folder without tokenizer.json, naming the slow tokenizer it has", async () => {
    const folder = join(dir, "slow");
    await mkdir(folder);
    await writeFile(join(folder, "tokenizer.model"), "");
    expect(() => TokenizerData.read(folder, 'model "m"')).toThrow(/model "m": no tokenizer\.json in .*only tokenizer\.model: a slow tokenizer/);
  });
});
