/** Test helper: the code of the TandemError a call throws. */
import { TandemError, type ErrorCode } from '../errors.ts';

/** The code of the TandemError `run` throws; anything else thrown fails the test; undefined if nothing is. */
export function codeOf(run: () => unknown): ErrorCode | undefined {
  try {
    run();
  } catch (err) {
    if (!(err instanceof TandemError)) throw new Error(`expected a TandemError, got ${String(err)}`, { cause: err });
    return err.code;
  }
  return undefined;
}
