import { InputError } from "../errors.ts";

const UNITS: Readonly<Record<string, number>> = {
  "": 1, b: 1e9, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

/**
 * Byte sizes as mergekit's --out-shard-size takes them: decimal suffixes (k, m, b = billion), plus
 * KB/MB/GB, KiB/MiB/GiB and plain or scientific numbers ("5e9").
 */
export function parseByteSize(text: string, flag: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InputError(`${flag}: "${text}" is not a size (e.g. 5B, 1G, 500M, 2GiB, 5e9)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new InputError(`${flag}: size must be positive (got "${text}")`);
  return bytes;
}
