import { InputError } from "../errors.ts";
import { seededRng } from "../merge/rng.ts";
import type { Engine } from "./engine.ts";

/**
 * A training sequence: token ids, and optionally which tokens are learned. lossMask[t] = 1 makes token t a
 * target (predicted from tokens 0..t−1); 0 leaves it out of the loss (a prompt, for supervised fine-tuning).
 * Without a mask every token but the first is a target (pre-training). Token 0 is never a target.
 */
export interface TrainingSequence {
  ids: ArrayLike<number>;
  lossMask?: ArrayLike<number>;
}

export function checkSequences(sequences: readonly TrainingSequence[], vocab: number, seqLen: number): void {
  if (sequences.length === 0) throw new InputError("training: no sequences");
  sequences.forEach((s, i) => {
    if (s.ids.length < 2) throw new InputError(`training: sequence ${i} has ${s.ids.length} tokens; it needs at least 2 to predict one`);
    if (s.ids.length > seqLen) throw new InputError(`training: sequence ${i} has ${s.ids.length} tokens, more than seqLen ${seqLen}; split it first`);
    if (s.lossMask && s.lossMask.length !== s.ids.length) throw new InputError(`training: sequence ${i} has ${s.ids.length} tokens but a loss mask of ${s.lossMask.length}`);
    for (let t = 0; t < s.ids.length; t++) {
      const id = s.ids[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new InputError(`training: sequence ${i} has token ${id} at ${t}, outside the vocabulary of ${vocab}`);
    }
  });
}

/**
 * Lays `sequences` (at most engine.batch) into the engine's batch, right-padded to the longest of them (rounded
 * up to a multiple of 8, for the kernels): a batch of short sequences costs what they need. Position t reads
 * ids[t] and predicts ids[t + 1] with weight lossMask[t + 1]; padding and missing rows weigh 0, so the padded
 * length changes no loss and no gradient, bit for bit.
 */
export function fillBatch(engine: Engine, sequences: readonly TrainingSequence[]): void {
  const { tokens, targets, weights } = engine;
  if (sequences.length > engine.batch) throw new Error(`fillBatch: ${sequences.length} sequences for a batch of ${engine.batch}`);
  const longest = sequences.reduce((max, s) => Math.max(max, s.ids.length), 1);
  if (longest > engine.maxSeqLen) throw new Error(`fillBatch: a sequence of ${longest} tokens for buffers of ${engine.maxSeqLen}`);
  const seqLen = Math.ceil(longest / 8) * 8;
  engine.seqLen = seqLen;
  engine.rows = engine.batch * seqLen;
  tokens.fill(0);
  targets.fill(0);
  weights.fill(0);
  sequences.forEach((s, b) => {
    const o = b * seqLen;
    for (let t = 0; t < s.ids.length; t++) tokens[o + t] = s.ids[t]!;
    for (let t = 0; t + 1 < s.ids.length; t++) {
      targets[o + t] = s.ids[t + 1]!;
      weights[o + t] = s.lossMask ? (s.lossMask[t + 1] ? 1 : 0) : 1;
    }
  });
}

/** Sequence indices for each batch: seeded shuffles, one epoch after another, so every sequence is seen once per epoch. */
export class BatchSampler {
  private readonly rng;
  private order: number[] = [];
  private at = 0;

  constructor(
    private readonly count: number,
    seed: number | string,
  ) {
    this.rng = seededRng("train-batches", seed);
  }

  next(size: number): number[] {
    const picked: number[] = [];
    while (picked.length < size) {
      if (this.at === this.order.length) this.shuffle();
      picked.push(this.order[this.at++]!);
    }
    return picked;
  }

  private shuffle(): void {
    this.order = Array.from({ length: this.count }, (_, i) => i);
    for (let i = this.count - 1; i > 0; i--) {
      const j = Math.floor(this.rng.next() * (i + 1)); // Fisher–Yates
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
    this.at = 0;
  }
}
