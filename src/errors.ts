/** Exit codes scripts can rely on: 0 ok, 1 a check failed (gate), 2 bad input or usage. */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad input from the user: a config, a checkpoint, a flag. The message names the file, tensor or line. */
export class InputError extends Error {
  override readonly name = "InputError";
  readonly exitCode = EXIT_BAD_INPUT;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
