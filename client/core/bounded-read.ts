/**
 * Bounded retrieval, TUF's defences against endless data and slow retrieval, for everything the SDK
 * fetches from the edge: a body is refused by its `Content-Length` before a byte is read when that says
 * more than the bound, and cut off (`payload_too_large`) the moment it grows past it; a read that stalls
 * for longer than `stallMs`, or outlives its deadline, fails with `deadline_exceeded`. Either way the
 * caller gets a typed error, never the bytes, so nothing partial is parsed or cached.
 */
import { TandemError } from '../../protocol/errors.ts';

export interface ReadOptions {
  /** The most bytes the body may have. */
  bound: number;
  /** Names the document in messages, e.g. `timestamp record`. */
  what: string;
  /** The caller's signal joined with the deadline (`deadlineSignal`): aborts the read. */
  signal?: AbortSignal | undefined;
  /** Fails a read that delivers no byte for this long, ms. Default: no stall limit beyond the signal. */
  stallMs?: number | undefined;
}

/**
 * The caller's signal joined with a deadline `ms` from now.
 * @example
 * const signal = deadlineSignal(30_000, options.signal);
 * const res = await fetch(url, { signal });
 */
export function deadlineSignal(ms: number, signal?: AbortSignal): AbortSignal {
  const deadline = AbortSignal.timeout(Math.ceil(ms));
  return signal ? AbortSignal.any([signal, deadline]) : deadline;
}

/** Why a signal fired, as a TandemError: its deadline passed (`deadline_exceeded`), or the caller aborted. */
export function errorFromAbort(signal: AbortSignal, what: string): TandemError {
  const reason: unknown = signal.reason;
  if (reason instanceof TandemError) return reason;
  return (reason as { name?: unknown } | undefined)?.name === 'TimeoutError'
    ? new TandemError('deadline_exceeded', `${what}: not received within its deadline`, { cause: reason })
    : new TandemError('aborted', `${what}: aborted`, { cause: reason });
}

/**
 * Streams a response body to `onChunk` within the options' bound, signal and stall limit.
 * @throws TandemError `payload_too_large`, `deadline_exceeded` or `aborted`; a body that fails midway
 *   rethrows its error (the caller maps it).
 */
export async function readChunks(res: Response, options: ReadOptions, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const { bound, what, signal, stallMs } = options;
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > bound) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(what, `declares ${declared} bytes`, bound);
  }
  if (!res.body) return;
  const reader = res.body.getReader();
  let received = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  // Rejects when the signal fires or a read stalls: the body's own stream may never notice either (a
  // stream not tied to the fetch's signal), so every read races it.
  const interrupted = new Promise<never>((_, reject) => {
    onAbort = () => reject(errorFromAbort(signal!, what));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  const stalled = () =>
    stallMs === undefined
      ? interrupted
      : Promise.race([
          interrupted,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new TandemError('deadline_exceeded', `${what}: stalled, no byte for ${stallMs} ms`)), stallMs);
          }),
        ]);
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stalled()]);
      clearTimeout(timer);
      if (done) return;
      received += value.byteLength;
      if (received > bound) throw tooLarge(what, `grew past ${bound} bytes`, bound);
      onChunk(value);
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    interrupted.catch(() => {});
  }
}

/** The whole body, within the options' bound, signal and stall limit. @throws as `readChunks`. */
export async function readBody(res: Response, options: ReadOptions): Promise<Uint8Array> {
  const chunks: BlobPart[] = [];
  await readChunks(res, options, (chunk) => chunks.push(chunk as BlobPart));
  // Documents and error bodies: a few KiB, where a Blob's extra copy costs less than the code to join them.
  return new Uint8Array(await new Blob(chunks).arrayBuffer());
}

/** The most of an error answer's body the SDK reads: an error is a message, not a download. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * An error answer's body as text, read within 64 KiB and `signal`; empty when it is longer, slower or
 * broken (the status then says what happened: core/error-mapping.ts `errorFromAnswer`).
 */
export async function readErrorText(res: Response, signal?: AbortSignal): Promise<string> {
  try {
    return new TextDecoder().decode(await readBody(res, { bound: MAX_ERROR_BODY_BYTES, what: 'error body', signal }));
  } catch {
    return '';
  }
}

function tooLarge(what: string, why: string, bound: number): TandemError {
  return new TandemError('payload_too_large', `${what} ${why}, over its ${bound}-byte bound: refused`);
}
