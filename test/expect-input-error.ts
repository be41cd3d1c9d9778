import { expect } from "vitest";
import { InputError } from "../src/errors.ts";

/** Awaits a promise that must reject with an InputError whose message mentions every string given. */
export async function expectInputError(promise: Promise<unknown>, ...mentions: string[]): Promise<InputError> {
  const err = await promise.then(
    () => {
      throw new Error("expected an InputError, but it resolved");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  for (const m of mentions) expect((err as Error).message).toContain(m);
  return err as InputError;
}
