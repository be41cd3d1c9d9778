import { InputError } from "../errors.ts";

/** An integer flag value ≥ `min`, or undefined when the flag was not given. */
export function intFlag(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new InputError(`${flag}: "${text}" is not an integer ≥ ${min}`);
  return n;
}

/** A number flag ≥ `min`, or undefined when the flag was not given. */
export function numberFlag(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < min) throw new InputError(`${flag}: "${text}" is not a number ≥ ${min}`);
  return n;
}
