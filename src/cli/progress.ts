import cliProgress from "cli-progress";

export interface Progress {
  /** A new step: the count starts again from 0 (`unit` overrides the default for this step). */
  start(total: number, label: string, unit?: "bytes" | "items"): void;
  /** Adds `amount` (bytes or items) done; `detail` names the last one. */
  tick(amount: number, detail: string): void;
  stop(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  quiet?: boolean;
  unit: "bytes" | "items";
  /** Off a TTY, print a plain line this often (none when unset: the caller prints one summary line). */
  periodicMs?: number;
}

/** A progress bar on a TTY; off a TTY, nothing or a plain line every `periodicMs`. */
export function createProgress({ stream = process.stderr, quiet = false, unit, periodicMs }: ProgressOptions): Progress {
  if (quiet) return { start() {}, tick() {}, stop() {} };
  if (!stream.isTTY) return periodicMs ? periodicLines(stream, periodicMs) : { start() {}, tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream, format: "{label} [{bar}] {percentage}% | {value}/{total} {unit} | ETA {eta_formatted} | {detail}", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  let total = 0;
  let scale = 1;
  return {
    start(t, label, stepUnit = unit) {
      done = 0;
      total = t;
      scale = stepUnit === "items" ? 1 : t < 1e7 ? 1e3 : 1e6;
      const name = stepUnit === "items" ? "" : scale === 1e3 ? "kB" : "MB";
      bar.start(Math.max(1, Math.round(t / scale)), 0, { label, detail: "", unit: name });
    },
    tick(amount, detail) {
      done = Math.min(total, done + amount);
      bar.update(Math.round(done / scale), { detail });
    },
    stop() {
      bar.stop();
    },
  };
}

function periodicLines(stream: NodeJS.WriteStream, everyMs: number): Progress {
  let total = 0;
  let done = 0;
  let label = "";
  let timer: NodeJS.Timeout | undefined;
  let started = Date.now();
  const line = () => {
    const seconds = (Date.now() - started) / 1000;
    stream.write(`${label}: ${done}/${total} (${((100 * done) / Math.max(1, total)).toFixed(0)}%), ${(done / Math.max(seconds, 1e-3)).toFixed(1)}/s\n`);
  };
  return {
    start(t, l) {
      if (timer) clearInterval(timer);
      total = t;
      done = 0;
      label = l;
      started = Date.now();
      timer = setInterval(line, everyMs);
      timer.unref();
    },
    tick(amount) {
      done = Math.min(total, done + amount);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
