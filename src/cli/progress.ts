import cliProgress from "cli-progress";

export interface Progress {
  start(total: number, label: string): void;
  tick(bytes: number, detail: string): void;
  stop(): void;
}

/** A progress bar on a TTY; nothing while running otherwise (the caller prints one summary line). */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet || !stream.isTTY) return { start() {}, tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream, format: "{label} [{bar}] {percentage}% | {value}/{total} MB | ETA {eta_formatted} | {detail}", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  return {
    start(total, label) {
      bar.start(Math.max(1, Math.round(total / 1e6)), 0, { label, detail: "" });
    },
    tick(bytes, detail) {
      done += bytes;
      bar.update(Math.round(done / 1e6), { detail });
    },
    stop() {
      bar.stop();
    },
  };
}
