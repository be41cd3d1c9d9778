import type { Model } from "./model.ts";
import type { TrainOptions } from "./train.ts";

/** What trainInWorker posts: the options without the callback, which stays on the calling thread. */
export type WorkerTrainOptions = Omit<TrainOptions, "onStep">;

export type WorkerMessage =
  | { kind: "step"; step: number; loss: number }
  | { kind: "done"; model: Model; losses: number[] }
  | { kind: "error"; message: string; input: boolean };
