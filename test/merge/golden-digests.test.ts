import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFixtureFamily } from "../../src/fixtures/family.ts";
import { writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { runMerge, type MergeOptions } from "../../src/merge/index.ts";

/**
 * Every output byte pinned: each method merges the fixture family (BF16) and tiny F32 / F16 checkpoints, and the
 * SHA-256 of the written safetensors must equal the digest committed in golden-digests.json, which was computed
 * by the engine before its streaming and kernel rewrites (issue 13, item 6). The same cases also run with worker
 * threads and with tensors cut into small chunks, which must not move a byte either.
 *
 * A deliberate change of a method's math changes its digests: rewrite them with
 *   UPDATE_GOLDEN=1 npx vitest run test/merge/golden-digests.test.ts
 * and say in the commit why the bytes moved.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const DIGESTS_FILE = join(HERE, "golden-digests.json");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Tensors of a few tens of thousands of entries: several chunks each when chunks are made small. */
const TINY: TinyModelShape = { vocab: 300, hidden: 96, intermediate: 200, layers: 2, dtype: "F32" };

interface Case {
  id: string;
  yaml: string;
  options?: Partial<MergeOptions>;
}

const family = (m: string) => `family/${m}`;
const ms = (entries: [string, Record<string, unknown>?][]) =>
  "models:\n" +
  entries.map(([model, p]) => `  - model: ${model}${p ? `\n    parameters: ${JSON.stringify(p)}` : ""}`).join("\n") +
  "\n";

const TA_FAMILY = ["ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear"];

function cases(): Case[] {
  const out: Case[] = [];
  const add = (id: string, yaml: string, options?: Partial<MergeOptions>) => out.push({ id, yaml, options });
  const [B, G, S, M] = ["base", "general", "safety", "mix15"].map(family) as [string, string, string, string];

  // ---- the fixture family (BF16 in)
  add("family/linear", ms([[G, { weight: 0.3 }], [S, { weight: 0.7 }]]) + "merge_method: linear\n");
  add("family/linear-3-unnormalized-f16", ms([[G, { weight: 0.5 }], [S, { weight: 0.3 }], [M, { weight: 0.4 }]]) + "merge_method: linear\nparameters: {normalize: false}\nout_dtype: float16\n");
  add("family/linear-lora", ms([[`${B}+${family("safety-lora")}`, { weight: 0.5 }], [G, { weight: 0.5 }]]) + "merge_method: linear\ndtype: bfloat16\n");
  add("family/linear-load-f16", ms([[G, { weight: 0.7 }], [S, { weight: 0.3 }]]) + "merge_method: linear\ndtype: float16\n");
  add("family/task_arithmetic", ms([[G, { weight: 0.6 }], [S, { weight: 0.4 }]]) + `merge_method: task_arithmetic\nbase_model: ${B}\nparameters: {lambda: 0.9}\n`);
  add("family/task_arithmetic-f32", ms([[G, { weight: 1 }], [S, { weight: 0.5 }], [M, { weight: 0.25 }]]) + `merge_method: task_arithmetic\nbase_model: ${B}\nparameters: {normalize: true}\nout_dtype: float32\n`);
  for (const method of TA_FAMILY) {
    const extra = method.startsWith("della") ? { epsilon: 0.1 } : method.startsWith("breadcrumbs") ? { gamma: 0.05 } : {};
    add(`family/${method}`, ms([[G, { weight: 0.5, density: 0.5, ...extra }], [S, { weight: 0.5, density: 0.5, ...extra }]]) + `merge_method: ${method}\nbase_model: ${B}\ndtype: float32\nout_dtype: bfloat16\n`, { seed: 7 });
    add(`family/${method}-3`, ms([[G, { weight: 0.5, density: 0.6, ...extra }], [S, { weight: 0.3, density: 0.4, ...extra }], [M, { weight: 0.2, density: 0.7, ...extra }]]) + `merge_method: ${method}\nbase_model: ${B}\n`, { seed: 3 });
  }
  add("family/ties-gradient", ms([[G, { weight: [0.3, 0.5, 0.7], density: 0.7 }], [S, { weight: [0.7, 0.5, 0.3], density: 0.7 }]]) + `merge_method: ties\nbase_model: ${B}\nparameters: {normalize: false, rescale: true}\n`);
  add("family/slerp", `slices:\n  - sources:\n      - {model: ${G}, layer_range: [0, 4]}\n      - {model: ${S}, layer_range: [0, 4]}\nmerge_method: slerp\nbase_model: ${G}\nparameters:\n  t:\n    - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}\n    - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}\n    - {value: 0.5}\ndtype: bfloat16\n`);
  add("family/nuslerp", ms([[G, { weight: 0.4 }], [S, { weight: 0.6 }]]) + `merge_method: nuslerp\nbase_model: ${B}\n`);
  add("family/nuslerp-rowwise", ms([[G, { weight: 0.4 }], [S, { weight: 0.6 }]]) + `merge_method: nuslerp\nparameters: {nuslerp_row_wise: true}\n`);
  add("family/model_stock", ms([[G], [S], [M]]) + `merge_method: model_stock\nbase_model: ${B}\n`);
  add("family/passthrough", ms([[G, { scale: 0.5 }]]) + "merge_method: passthrough\n");
  add("family/multislerp", ms([[G, { weight: 0.5 }], [S, { weight: 0.3 }], [M, { weight: 0.2 }]]) + `merge_method: multislerp\nbase_model: ${B}\n`);
  add("family/karcher", ms([[G], [S], [M]]) + "merge_method: karcher\nparameters: {max_iter: 10, tol: 1.0e-5}\n");
  add("family/sce", ms([[G], [S], [M]]) + `merge_method: sce\nbase_model: ${B}\nparameters: {select_topk: 0.5}\n`);
  add("family/nearswap", ms([[S]]) + `merge_method: nearswap\nbase_model: ${B}\nparameters: {t: 0.001}\n`);
  add("family/arcee_fusion", ms([[S]]) + `merge_method: arcee_fusion\nbase_model: ${B}\n`, { seed: 11 });
  add("family/ram", ms([[G], [S]]) + `merge_method: ram\nbase_model: ${B}\n`);
  add("family/ramplus_tl", ms([[G], [S]]) + `merge_method: ramplus_tl\nbase_model: ${B}\nparameters: {r: 0.1, alpha: 0.2}\n`);

  // ---- tiny F32 and F16 checkpoints (the decode paths other than bf16), and inputs of different vocabularies
  for (const dt of ["f32", "f16"]) {
    const [b, x, y] = ["base", "x", "y"].map((m) => `${dt}/${m}`) as [string, string, string];
    add(`${dt}/linear`, ms([[x, { weight: 0.3 }], [y, { weight: 0.7 }]]) + "merge_method: linear\n");
    add(`${dt}/linear-bf16`, ms([[x, { weight: 0.3 }], [y, { weight: 0.7 }], [b, { weight: 0.1 }]]) + "merge_method: linear\nout_dtype: bfloat16\n");
    add(`${dt}/task_arithmetic`, ms([[x, { weight: 0.5 }], [y, { weight: 0.5 }]]) + `merge_method: task_arithmetic\nbase_model: ${b}\n`);
    add(`${dt}/slerp`, ms([[x], [y]]) + `merge_method: slerp\nbase_model: ${x}\nparameters: {t: 0.3}\n`);
    for (const method of ["ties", "dare_ties", "dare_linear", "breadcrumbs_ties", "della"]) {
      const extra = method === "della" ? { epsilon: 0.1 } : {};
      add(`${dt}/${method}`, ms([[x, { weight: 0.6, density: 0.5, ...extra }], [y, { weight: 0.4, density: 0.5, ...extra }]]) + `merge_method: ${method}\nbase_model: ${b}\n`, { seed: 5 });
    }
  }
  add("f32/linear-crop", ms([["f32/x", { weight: 0.5 }], ["f32/wide", { weight: 0.5 }]]) + "merge_method: linear\n");
  add("f32/ties-crop", ms([["f32/wide", { weight: 0.5, density: 0.5 }], ["f32/y", { weight: 0.5, density: 0.5 }]]) + "merge_method: ties\nbase_model: f32/base\n");
  add("f32/linear-shards", ms([["f32/x", { weight: 0.5 }], ["f32/y", { weight: 0.5 }]]) + "merge_method: linear\n", { outShardSize: 200_000 });
  return out;
}

let root: string;
let committed: Record<string, string> = {};
const computed: Record<string, string> = {};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-golden-"));
  await writeFixtureFamily(join(root, "family"));
  for (const [dt, dtype] of [["f32", "F32"], ["f16", "F16"]] as const) {
    const shape = { ...TINY, dtype };
    await writeTinyModel(join(root, dt, "base"), "base", 0, shape);
    await writeTinyModel(join(root, dt, "x"), "x", 0.02, shape);
    await writeTinyModel(join(root, dt, "y"), "y", 0.03, shape);
  }
  await writeTinyModel(join(root, "f32", "wide"), "wide", 0.02, { ...TINY, vocab: 310 });
  if (existsSync(DIGESTS_FILE)) committed = JSON.parse(await readFile(DIGESTS_FILE, "utf8")) as Record<string, string>;
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  if (UPDATE) await writeFile(DIGESTS_FILE, JSON.stringify(Object.fromEntries(Object.entries(computed).sort()), null, 2) + "\n");
});

let counter = 0;
/** SHA-256 over the merge's safetensors files (and index), in name order. */
async function mergeDigest(c: Case, extra: Partial<MergeOptions> = {}): Promise<string> {
  const configFile = join(root, `case-${++counter}.yml`);
  await writeFile(configFile, c.yaml);
  const outDir = join(root, "out", String(counter));
  await runMerge({ configFile, outDir, cwd: root, seed: 0, ...c.options, ...extra });
  const hash = createHash("sha256");
  const files = (await readdir(outDir)).filter((f) => f.endsWith(".safetensors") || f.endsWith(".safetensors.index.json")).sort();
  for (const f of files) hash.update(f).update(await readFile(join(outDir, f)));
  await rm(outDir, { recursive: true, force: true });
  return hash.digest("hex");
}

describe("golden output digests (every byte as before the streaming rewrite)", () => {
  const all = cases();
  it.each(all.map((c) => [c.id, c] as const))("%s", async (id, c) => {
    const digest = await mergeDigest(c);
    computed[id] = digest;
    if (!UPDATE) expect(digest, `${id}: output bytes changed`).toBe(committed[id]);
  });

  // Element-wise methods stream their tensors in chunks: cut them small (and, with crops, in whole rows).
  const chunked = all.filter((c) => /\/(linear|task_arithmetic|passthrough|nearswap|ram)(-|$)/.test(c.id)).map((c) => c.id);
  it.each(chunked)("%s in chunks of 1000 entries", async (id) => {
    const c = all.find((x) => x.id === id)!;
    process.env.MERGEVAL_CHUNK_ELEMENTS = "1000";
    try {
      expect(await mergeDigest(c)).toBe(UPDATE ? computed[id] : committed[id]);
      expect(await mergeDigest(c, { threads: 2, parallelMinBytes: 0, overlapBytes: 0 })).toBe(UPDATE ? computed[id] : committed[id]);
    } finally {
      delete process.env.MERGEVAL_CHUNK_ELEMENTS;
    }
  });

  const threaded = ["family/linear", "family/ties", "family/dare_ties-3", "family/della", "family/linear-lora", "f32/linear", "f16/ties", "f32/ties-crop", "family/slerp"];
  it.each(threaded)("%s with two worker threads", async (id) => {
    const c = all.find((x) => x.id === id)!;
    const digest = await mergeDigest(c, { threads: 2, parallelMinBytes: 0, overlapBytes: 0 });
    expect(digest).toBe(UPDATE ? computed[id] : committed[id]);
  });
});
