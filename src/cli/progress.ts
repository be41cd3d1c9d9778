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
    { stream, format: "{label} [{bar}] {percentage}% | {value}/{total} {unit} | ETA {eta_formatted} | {detail}", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  let scale = 1e6;
  return {
    start(total, label) {
      scale = total < 1e7 ? 1e3 : 1e6;
      bar.start(Math.max(1, Math.round(total / scale)), 0, { label, detail: "", unit: scale === 1e3 ? "kB" : "MB" });
    },
    tick(bytes, detail) {
      done += bytes;
      bar.update(Math.round(done / scale), { detail });
    },
    stop() {
      bar.stop();
    },
  };
}
