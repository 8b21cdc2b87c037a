/**
 * A bound on one R2 read: the edge's update metadata (trust documents, rollout records) is read on the
 * request path, and an R2 that answers slowly must fail that read, not hold the request.
 */
import { TandemError } from '../../protocol/errors.ts';

/** @throws TandemError `deadline_exceeded` when `promise` takes longer than `ms` (R2 answering slowly). */
export function withR2Deadline<T>(promise: Promise<T>, ms: number, key: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TandemError('deadline_exceeded', `reading ${key} from R2 took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}
