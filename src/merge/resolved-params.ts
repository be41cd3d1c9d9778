import { parseLayerName } from "./architecture.ts";
import type { ParamValue } from "./methods/types.ts";
import type { MergePlan } from "./plan.ts";

/**
 * What the dry run shows of a plan: every parameter's value per tensor after gradients, filters and defaults,
 * grouped so a 32-layer recipe stays a short table. Within a layer, tensors with equal values share a row
 * (named by module when a whole module agrees); a row spanning consecutive layers with the same values is one
 * row ("layers 0-3").
 */

export interface ParameterRow {
  /** The model whose per-model parameters these are; absent for the global parameters. */
  model?: string;
  /** First and last output layer; absent for "all tensors" and for tensors outside the layers. */
  layers?: [number, number];
  /** "all tensors", modules of a layer ("self_attn, mlp"), or tensors outside the layers ("embed_tokens, norm"). */
  tensors: string;
  values: Readonly<Record<string, ParamValue>>;
}

interface TensorValues {
  name: string;
  values: Readonly<Record<string, ParamValue>>;
}

export function resolvedParameterRows(plan: MergePlan): ParameterRow[] {
  // Global parameters first (the undefined key), then each model in the order it first appears.
  const owners = new Map<string | undefined, TensorValues[]>([[undefined, []]]);
  const add = (model: string | undefined, name: string, values: Readonly<Record<string, ParamValue>>) => {
    if (Object.keys(values).length > 0) owners.set(model, [...(owners.get(model) ?? []), { name, values }]);
  };
  for (const task of plan.tasks) {
    add(undefined, task.name, task.global);
    for (const input of task.models) add(input.model.ref, task.name, input.perModel);
  }
  return [...owners].flatMap(([model, tensors]) => (tensors.length ? ownerRows(model, tensors, plan.tasks.length) : []));
}

function ownerRows(model: string | undefined, tensors: TensorValues[], taskCount: number): ParameterRow[] {
  const owner = model === undefined ? {} : { model };
  const first = tensors[0]!;
  if (tensors.length === taskCount && tensors.every((t) => valuesText(t.values) === valuesText(first.values))) {
    return [{ ...owner, tensors: "all tensors", values: first.values }];
  }
  const layered = new Map<number, TensorValues[]>();
  const outside: TensorValues[] = [];
  for (const tensor of tensors) {
    const index = parseLayerName(tensor.name)?.index;
    if (index === undefined) outside.push(tensor);
    else layered.set(index, [...(layered.get(index) ?? []), tensor]);
  }
  // Rows keyed by (modules, values), each with the layers it holds for; runs of consecutive layers become rows.
  const spans = new Map<string, { tensors: string; values: Readonly<Record<string, ParamValue>>; layers: number[] }>();
  for (const [index, inLayer] of [...layered].sort(([a], [b]) => a - b)) {
    for (const group of groupByValues(inLayer)) {
      const tensorsText = moduleLabel(group.map((t) => t.name), inLayer.map((t) => t.name));
      const key = `${tensorsText}\u0000${valuesText(group[0]!.values)}`;
      const span = spans.get(key) ?? { tensors: tensorsText, values: group[0]!.values, layers: [] };
      span.layers.push(index);
      spans.set(key, span);
    }
  }
  const layerRows = [...spans.values()].flatMap((span) =>
    consecutiveRuns(span.layers).map((layers) => ({ ...owner, layers, tensors: span.tensors, values: span.values })),
  );
  layerRows.sort((a, b) => a.layers[0] - b.layers[0]);
  const outsideRows = groupByValues(outside).map((group) => ({ ...owner, tensors: group.map((t) => shortName(t.name)).join(", "), values: group[0]!.values }));
  return [...layerRows, ...outsideRows];
}

function groupByValues(tensors: TensorValues[]): TensorValues[][] {
  const groups = new Map<string, TensorValues[]>();
  for (const t of tensors) groups.set(valuesText(t.values), [...(groups.get(valuesText(t.values)) ?? []), t]);
  return [...groups.values()];
}

/**
 * "all" when the group is the whole layer, else its modules ("self_attn" for all of them, "self_attn.q_proj" for
 * one), or "all but …" when naming the rest of the layer is shorter.
 */
function moduleLabel(group: string[], layer: string[]): string {
  if (group.length === layer.length) return "all";
  const listed = moduleList(group, layer);
  const rest = moduleList(layer.filter((n) => !group.includes(n)), layer);
  return listed.length > 2 && rest.length < listed.length ? `all but ${rest.join(", ")}` : listed.join(", ");
}

function moduleList(group: string[], layer: string[]): string[] {
  const moduleOf = (name: string) => layerPart(name).split(".")[0]!;
  const labels: string[] = [];
  for (const name of group) {
    const module = moduleOf(name);
    const whole = layer.filter((n) => moduleOf(n) === module).every((n) => group.includes(n));
    const label = whole ? module : layerPart(name);
    if (!labels.includes(label)) labels.push(label);
  }
  return labels;
}

/** "self_attn.q_proj" from "model.layers.3.self_attn.q_proj.weight". */
function layerPart(name: string): string {
  return parseLayerName(name)!.suffix.slice(1).replace(/\.weight$/, "");
}

/** "embed_tokens" from "model.embed_tokens.weight", "lm_head" from "lm_head.weight". */
function shortName(name: string): string {
  return name.replace(/^model\./, "").replace(/\.weight$/, "");
}

function consecutiveRuns(sorted: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const n of sorted) {
    const last = runs[runs.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else runs.push([n, n]);
  }
  return runs;
}

/** `t=0.4333 normalize=true`: numbers to 4 significant digits, enough to tell gradient steps apart. */
export function valuesText(values: Readonly<Record<string, ParamValue>>): string {
  return Object.entries(values)
    .map(([key, v]) => `${key}=${typeof v === "number" ? Number(v.toPrecision(4)) : v}`)
    .join(" ");
}

/** The rows as an indented table, one block per owner, values aligned. */
export function formatParameterRows(rows: readonly ParameterRow[]): string[] {
  const layersText = ({ layers }: ParameterRow) => (layers ? `layers ${layers[0]}${layers[1] > layers[0] ? `-${layers[1]}` : ""}` : "");
  const layered = rows.filter((r) => r.layers);
  const layersWidth = Math.max(0, ...layered.map((r) => layersText(r).length));
  const tensorsWidth = Math.max(0, ...layered.map((r) => r.tensors.length));
  const label = (row: ParameterRow) => (row.layers ? `${layersText(row).padEnd(layersWidth)}  ${row.tensors.padEnd(tensorsWidth)}` : row.tensors);
  const labelWidth = Math.max(0, ...rows.map((r) => label(r).length));
  const lines = ["parameters after gradients and filters:"];
  rows.forEach((row, i) => {
    if (i === 0 || row.model !== rows[i - 1]!.model) lines.push(row.model === undefined ? "  global" : `  model ${row.model}`);
    lines.push(`    ${label(row).padEnd(labelWidth)}  ${valuesText(row.values)}`);
  });
  return lines;
}
