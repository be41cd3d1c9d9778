import { truncateSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { tinyTensors, writeTinyModels, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { methodNames, runMerge, type MergeOptions, type MergeSummary } from "../../src/merge/index.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import { saveCheckpoint, type TensorToSave } from "../../src/merge/safetensors/save.ts";
import { expectInputError } from "../expect-input-error.ts";

/**
 * End-to-end: bad inputs given to runMerge fail with an InputError naming what is wrong, and leave neither an
 * output folder nor a staging folder behind.
 */

const SHAPE: TinyModelShape = { vocab: 16, hidden: 8, intermediate: 12, layers: 2, dtype: "F32" };
const UP = "model.layers.1.mlp.up_proj.weight"; // [12, 8], not an embedding
const Q = "model.layers.0.self_attn.q_proj.weight"; // [8, 8]
const K = "model.layers.0.self_attn.k_proj.weight"; // [8, 8]
const NORM = "model.norm.weight"; // [8]

let root: string;
let pristine: { base: string; general: string; safety: string };
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-corrupt-"));
  const [base, general, safety] = await writeTinyModels(join(root, "pristine"), SHAPE);
  pristine = { base: base!, general: general!, safety: safety! };
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Case {
  dir: string;
  models: { base: string; general: string; safety: string };
  /** The output folder (not created); its parent exists and is empty. */
  out: string;
  outParent: string;
}

/** A fresh case folder with its own copies of the three tiny models. */
async function newCase(label: string): Promise<Case> {
  const dir = join(root, `${label}-${++counter}`);
  const models = { base: join(dir, "base"), general: join(dir, "general"), safety: join(dir, "safety") };
  for (const key of ["base", "general", "safety"] as const) await cp(pristine[key], models[key], { recursive: true });
  const outParent = join(dir, "outputs");
  await mkdir(outParent);
  return { dir, models, out: join(outParent, "merged"), outParent };
}

async function writeConfig(c: Case, config: Record<string, unknown>): Promise<string> {
  const file = join(c.dir, "merge.yml");
  await writeFile(file, stringify(config));
  return file;
}

const linearConfig = (c: Case, weights: [number, number] = [0.5, 0.5]) => ({
  merge_method: "linear",
  models: [
    { model: c.models.base, parameters: { weight: weights[0] } },
    { model: c.models.general, parameters: { weight: weights[1] } },
  ],
});

const tiesConfig = (c: Case, density = 0.5) => ({
  merge_method: "ties",
  base_model: c.models.base,
  models: [
    { model: c.models.general, parameters: { weight: 0.5, density } },
    { model: c.models.safety, parameters: { weight: 0.5, density } },
  ],
});

function merge(c: Case, configFile: string, extra: Partial<MergeOptions> = {}): Promise<MergeSummary> {
  return runMerge({ configFile, outDir: c.out, seed: 1, ...extra });
}

/** The merge rejects with an InputError mentioning every string in `mentions`, and leaves nothing behind. */
async function expectCleanFailure(c: Case, promise: Promise<unknown>, mentions: string[]): Promise<InputError> {
  const err = await expectInputError(promise, ...mentions);
  await expectNothingLeft(c);
  return err;
}

async function expectNothingLeft(c: Case): Promise<void> {
  const left = await readdir(c.outParent);
  expect(left.filter((name) => name === "merged"), "output folder").toEqual([]);
  expect(left.filter((name) => name.startsWith(".merged.partial-")), "staging folder").toEqual([]);
  expect(left, "anything else in the output's parent").toEqual([]);
}

// --- ways to damage a safetensors file --------------------------------------------------------------------------

async function readRaw(file: string): Promise<{ header: Record<string, any>; data: Buffer }> {
  const bytes = await readFile(file);
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString("utf8")), data: bytes.subarray(8 + length) };
}

async function writeRaw(file: string, header: Record<string, unknown>, data: Uint8Array): Promise<void> {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.byteLength), 0);
  await writeFile(file, Buffer.concat([length, json, data]));
}

/** Rewrites the header of a safetensors file, keeping its data bytes. */
async function editHeader(file: string, edit: (header: Record<string, any>) => void): Promise<void> {
  const { header, data } = await readRaw(file);
  edit(header);
  await writeRaw(file, header, data);
}

/** Rewrites a tiny model's checkpoint with its tensors transformed (or dropped when `edit` returns undefined). */
async function rewriteTensors(dir: string, name: "general" | "safety", edit: (t: TensorToSave) => TensorToSave | undefined): Promise<void> {
  const perturbation = name === "general" ? 0.02 : 0.03;
  const tensors = tinyTensors(name, perturbation, SHAPE).map(edit).filter((t): t is TensorToSave => t !== undefined);
  await rm(join(dir, "model.safetensors"));
  await saveCheckpoint(dir, tensors);
}

// ---------------------------------------------------------------------------------------------------------------

describe("control: the undamaged models merge", () => {
  it("linear and ties succeed and write a readable checkpoint", async () => {
    const c = await newCase("control");
    const summary = await merge(c, await writeConfig(c, linearConfig(c)));
    expect(summary.warnings).toEqual([]);
    expect(summary.tensors).toBe(3 + 9 * SHAPE.layers);
    const checkpoint = await Checkpoint.open(c.out);
    expect(checkpoint.get(UP)?.shape).toEqual([12, 8]);
    await checkpoint.close();
    const left = await readdir(c.outParent);
    expect(left).toEqual(["merged"]);

    const c2 = await newCase("control-ties");
    await merge(c2, await writeConfig(c2, tiesConfig(c2)));
    expect(await readdir(c2.outParent)).toEqual(["merged"]);
  });
});

describe("a damaged model.safetensors in one input", () => {
  it("truncated: names the file and the tensor cut off", async () => {
    const c = await newCase("truncated");
    const file = join(c.models.general, "model.safetensors");
    const { header } = await readRaw(file);
    const lastTensor = Object.entries(header)
      .filter(([name]) => name !== "__metadata__")
      .sort(([, a], [, b]) => b.data_offsets[1] - a.data_offsets[1])[0]![0];
    const size = (await readFile(file)).byteLength;
    await truncate(file, size - 10);
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [file, `"${lastTensor}"`]);
  });

  it("truncated inside its header", async () => {
    const c = await newCase("truncated-header");
    const file = join(c.models.general, "model.safetensors");
    await truncate(file, 100);
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [file]);
  });

  it("header length past the end of the file", async () => {
    const c = await newCase("header-length");
    const file = join(c.models.general, "model.safetensors");
    const bytes = await readFile(file);
    bytes.writeBigUInt64LE(BigInt(bytes.byteLength), 0);
    await writeFile(file, bytes);
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [file]);
  });

  it("two tensors overlapping: names both", async () => {
    const c = await newCase("overlap");
    const file = join(c.models.general, "model.safetensors");
    await editHeader(file, (h) => {
      h[K].data_offsets = [...h[Q].data_offsets]; // same size, same bytes
    });
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [file, `"${Q}"`, `"${K}"`]);
  });

  it("a byte count that does not match shape × dtype", async () => {
    const c = await newCase("bytecount");
    const file = join(c.models.general, "model.safetensors");
    await editHeader(file, (h) => {
      h[UP].shape = [11, 8];
    });
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [file, `"${UP}"`]);
  });

  it("damage in the base model of a ties merge", async () => {
    const c = await newCase("base-damaged");
    const file = join(c.models.base, "model.safetensors");
    await editHeader(file, (h) => {
      h[NORM].dtype = "F33";
    });
    await expectCleanFailure(c, merge(c, await writeConfig(c, tiesConfig(c))), [file, `"${NORM}"`, "F33"]);
  });

  it("a tensor truncated after planning (during the merge) is caught when read", async () => {
    const c = await newCase("truncated-late");
    const file = join(c.models.general, "model.safetensors");
    const size = (await readFile(file)).byteLength;
    const config = await writeConfig(c, linearConfig(c));
    const err = await expectCleanFailure(
      c,
      merge(c, config, { onStart: () => truncateSync(file, size - 200) }), // onStart runs before any tensor is read
      [file],
    );
    expect(err.message).toMatch(/tensor "[^"]+"/);
  });
});

describe("missing and mismatched inputs", () => {
  it("a model folder that does not exist", async () => {
    const c = await newCase("missing-folder");
    const missing = join(c.dir, "no-such-model");
    const config = linearConfig(c);
    config.models[1]!.model = missing;
    await expectCleanFailure(c, merge(c, await writeConfig(c, config)), [missing]);
  });

  it("linear: a tensor missing from a non-base model is an error naming the tensor and the model", async () => {
    const c = await newCase("missing-linear");
    await rewriteTensors(c.models.general, "general", (t) => (t.name === UP ? undefined : t));
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [UP, c.models.general]);
  });

  it("ties: the same missing tensor skips that model for it, with a warning", async () => {
    const c = await newCase("missing-ties");
    await rewriteTensors(c.models.safety, "safety", (t) => (t.name === UP ? undefined : t));
    const warnings: string[] = [];
    const summary = await merge(c, await writeConfig(c, tiesConfig(c)), { onWarning: (w) => warnings.push(w) });
    expect(summary.warnings).toHaveLength(1);
    expect(summary.warnings[0]).toContain(UP);
    expect(summary.warnings[0]).toContain(c.models.safety);
    expect(warnings).toEqual(summary.warnings);
    const checkpoint = await Checkpoint.open(c.out);
    try {
      expect(checkpoint.get(UP)?.shape).toEqual([12, 8]);
      expect(checkpoint.tensors.size).toBe(3 + 9 * SHAPE.layers);
    } finally {
      await checkpoint.close();
    }
  });

  // The output's tensor list is the union over all inputs, so a tensor the donor (base, else first model) lacks
  // is reported as missing, as mergekit does for required tensors, never silently left out.
  it("ties: a tensor missing from the base model is an error", async () => {
    const c = await newCase("missing-base");
    await rm(join(c.models.base, "model.safetensors"));
    await saveCheckpoint(c.models.base, tinyTensors("base", 0, SHAPE).filter((t) => t.name !== UP));
    await expectCleanFailure(c, merge(c, await writeConfig(c, tiesConfig(c))), [UP, c.models.base]);
  });

  it("linear: a tensor missing from the first model is an error", async () => {
    const c = await newCase("missing-first");
    await rm(join(c.models.base, "model.safetensors"));
    await saveCheckpoint(c.models.base, tinyTensors("base", 0, SHAPE).filter((t) => t.name !== UP));
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [UP, c.models.base]);
  });

  it("linear: a shape mismatch in a non-embedding tensor names the tensor", async () => {
    const c = await newCase("shape");
    await rewriteTensors(c.models.general, "general", (t) =>
      t.name === UP ? { ...t, shape: [8, 8], values: t.values.subarray(0, 64) } : t,
    );
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [UP]);
  });

  it("an I64 tensor is rejected naming the dtype, file and tensor", async () => {
    const c = await newCase("i64");
    const file = join(c.models.general, "model.safetensors");
    const { header, data } = await readRaw(file);
    // replace model.norm.weight ([8] F32, 32 bytes) by an I64 [8] appended at the end of the data
    const start = data.byteLength;
    header[NORM] = { dtype: "I64", shape: [8], data_offsets: [start, start + 64] };
    await writeRaw(file, header, Buffer.concat([data, Buffer.alloc(64)]));
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [file, NORM, "I64"]);
  });

  it("a NaN in an input names the file and tensor, and merges with allowNonfinite", async () => {
    const c = await newCase("nan");
    await rewriteTensors(c.models.general, "general", (t) => {
      if (t.name !== UP) return t;
      const values = t.values.slice();
      values[5] = NaN;
      return { ...t, values };
    });
    const file = join(c.models.general, "model.safetensors");
    const config = await writeConfig(c, linearConfig(c));
    await expectCleanFailure(c, merge(c, config), [file, UP]);

    const summary = await merge(c, config, { allowNonfinite: true });
    expect(summary.tensors).toBe(3 + 9 * SHAPE.layers);
    const checkpoint = await Checkpoint.open(c.out);
    try {
      const entry = checkpoint.get(UP)!;
      const bytes = new Uint8Array(entry.byteLength);
      await checkpoint.readInto(entry, bytes);
      const values = new Float32Array(bytes.buffer);
      expect(values[5]).toBeNaN();
      expect(Number.isFinite(values[4]!)).toBe(true);
    } finally {
      await checkpoint.close();
    }
    expect((await readdir(c.outParent)).sort()).toEqual(["merged"]);
  });

  it("an Infinity in an input is rejected too", async () => {
    const c = await newCase("inf");
    await rewriteTensors(c.models.general, "general", (t) => {
      if (t.name !== NORM) return t;
      const values = t.values.slice();
      values[values.length - 1] = -Infinity;
      return { ...t, values };
    });
    await expectCleanFailure(c, merge(c, await writeConfig(c, linearConfig(c))), [join(c.models.general, "model.safetensors"), NORM]);
  });
});

describe("bad merge configs", () => {
  it("an unknown merge_method lists the known ones", async () => {
    const c = await newCase("unknown-method");
    const config = await writeConfig(c, { ...linearConfig(c), merge_method: "average" });
    const err = await expectCleanFailure(c, merge(c, config), [config, '"average"']);
    expect(methodNames().length).toBeGreaterThanOrEqual(13);
    for (const name of methodNames()) expect(err.message).toContain(name);
  });

  it("density 0 for ties", async () => {
    const c = await newCase("density");
    const err = await expectCleanFailure(c, merge(c, await writeConfig(c, tiesConfig(c, 0))), ["density", c.models.general]);
    expect(err.message).toMatch(/model\.|lm_head/); // names a tensor
  });

  it("slerp with three models", async () => {
    const c = await newCase("slerp3");
    const config = await writeConfig(c, {
      merge_method: "slerp",
      base_model: c.models.base,
      models: [{ model: c.models.base }, { model: c.models.general }, { model: c.models.safety }],
      parameters: { t: 0.5 },
    });
    const err = await expectCleanFailure(c, merge(c, config), [config, "slerp"]);
    expect(err.message.replace(config, "")).toMatch(/\b3\b/); // the number of models it got
  });

  it("linear weights summing to 0 with normalize", async () => {
    const c = await newCase("zero-weights");
    const config = await writeConfig(c, linearConfig(c, [1, -1]));
    await expectCleanFailure(c, merge(c, config), [config]);
    // the same weights without normalize are fine
    const c2 = await newCase("zero-weights-ok");
    await merge(c2, await writeConfig(c2, { ...linearConfig(c2, [1, -1]), parameters: { normalize: false } }));
    expect(await readdir(c2.outParent)).toEqual(["merged"]);
  });
});

describe("an existing output folder", () => {
  async function occupied(label: string): Promise<Case> {
    const c = await newCase(label);
    await mkdir(c.out);
    await writeFile(join(c.out, "old.txt"), "previous merge");
    return c;
  }

  it("is refused when not empty, and left untouched", async () => {
    const c = await occupied("exists");
    const err = await merge(c, await writeConfig(c, linearConfig(c))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(c.out);
    expect(await readdir(c.outParent)).toEqual(["merged"]);
    expect(await readdir(c.out)).toEqual(["old.txt"]);
  });

  it("is replaced with force once the merge succeeds", async () => {
    const c = await occupied("force");
    const summary = await merge(c, await writeConfig(c, linearConfig(c)), { force: true });
    expect(summary.outDir).toBe(c.out);
    expect(await readdir(c.outParent)).toEqual(["merged"]);
    const files = await readdir(c.out);
    expect(files).not.toContain("old.txt");
    expect(files).toContain("model.safetensors");
    expect(files).toContain("config.json");
  });

  it("is kept as it was when a forced merge fails", async () => {
    const c = await occupied("force-fail");
    await rewriteTensors(c.models.general, "general", (t) => {
      if (t.name !== NORM) return t;
      const values = t.values.slice();
      values[0] = NaN;
      return { ...t, values };
    });
    const err = await merge(c, await writeConfig(c, linearConfig(c)), { force: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(await readdir(c.outParent)).toEqual(["merged"]);
    expect(await readdir(c.out)).toEqual(["old.txt"]);
  });

  it("an empty one is used without force", async () => {
    const c = await newCase("empty-out");
    await mkdir(c.out);
    await merge(c, await writeConfig(c, linearConfig(c)));
    expect(await readdir(c.outParent)).toEqual(["merged"]);
    expect(await readdir(c.out)).toContain("model.safetensors");
  });

  it("a file in its place is refused", async () => {
    const c = await newCase("file-out");
    await writeFile(c.out, "not a folder");
    const err = await merge(c, await writeConfig(c, linearConfig(c))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(c.out);
    expect(await readdir(c.outParent)).toEqual(["merged"]);
    expect(await readFile(c.out, "utf8")).toBe("not a folder");
  });
});
