/**
 * Downloads an artifact with progress, resuming an interrupted body with a `Range` request from the byte
 * it stopped at, then checks size and SHA-256 against the manifest. The bytes leave this function only
 * after they hashed right: a mismatch is `artifact_hash_mismatch`, and nothing is cached or run.
 *
 * Retrieval is bounded (./bounded-read.ts): the manifest's `bytes` is the bound (a longer body is not the
 * signed artifact, so `artifact_hash_mismatch`, refused by its Content-Length before a byte is read when
 * that says so), a read that stalls for `timeoutMs` fails, and each attempt has a deadline of `timeoutMs`
 * plus the time the artifact takes at `MIN_BYTES_PER_SECOND` (`deadline_exceeded`), so a server that drips
 * bytes cannot hold a load.
 */
import { TandemError } from '../../protocol/errors.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { deadlineSignal, errorFromAbort, readChunks, readErrorText } from './bounded-read.ts';
import { errorFromAnswer, errorFromFetchFailure } from './error-mapping.ts';
import { retry, throwIfAborted, type RetryDeps, type RetryPolicy } from './retry.ts';

export interface ArtifactRef {
  url: string;
  sha256: string;
  bytes: number;
}

export interface DownloadProgress {
  loaded: number;
  total: number;
}

export interface DownloadOptions {
  fetch: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  retry: RetryPolicy;
  retryDeps?: RetryDeps;
  online?: () => boolean;
  /** How long a read may stall, and the fixed part of each attempt's deadline, ms. Default 30000. */
  timeoutMs?: number;
}

/** The slowest transfer a download is given time for: 16 KiB/s (a 100 MB model gets about 1.7 h). */
export const MIN_BYTES_PER_SECOND = 16 * 1024;

/**
 * @throws TandemError `artifact_hash_mismatch`, `deadline_exceeded`, `aborted`,
 *   `offline`, `origin_unavailable`, or the edge's error.
 * @example
 * const bytes = await downloadArtifact({ url, sha256, bytes: 1339919 }, { fetch, retry: DEFAULT_RETRY, onProgress });
 */
export async function downloadArtifact(ref: ArtifactRef, options: DownloadOptions): Promise<Uint8Array> {
  const buffer = new Uint8Array(ref.bytes);
  let loaded = 0;
  const online = options.online ?? (() => true);
  options.onProgress?.({ loaded, total: ref.bytes });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const what = `artifact ${ref.sha256.slice(0, 12)}`;
  await retry(
    async () => {
      throwIfAborted(options.signal);
      const headers: Record<string, string> = { ...options.headers };
      if (loaded > 0) headers.range = `bytes=${loaded}-`;
      const signal = deadlineSignal(timeoutMs + (ref.bytes / MIN_BYTES_PER_SECOND) * 1000, options.signal);
      let res: Response;
      try {
        res = await options.fetch(ref.url, { headers, signal });
      } catch (err) {
        throw signal.aborted ? errorFromAbort(signal, what) : errorFromFetchFailure(err, online(), `download ${ref.url}`);
      }
      if (!res.ok) throw errorFromAnswer(res, await readErrorText(res, signal));
      // A server that ignores Range answers 200 with the whole file: start over.
      if (loaded > 0 && res.status !== 206) loaded = 0;
      // A 206 from another byte than asked (or not saying which) would splice foreign bytes in: a server
      // failure, after which the retry fetches the whole file (from 0, no Range is sent).
      else if (res.status === 206 && !res.headers.get('content-range')?.startsWith(`bytes ${loaded}-`)) {
        res.body?.cancel().catch(() => {});
        loaded = 0;
        throw new TandemError('origin_unavailable', `download ${ref.url}: a 206 from another byte than asked`);
      }
      if (!res.body) throw new TandemError('origin_unavailable', `download ${ref.url}: empty body`);
      try {
        await readChunks(res, { bound: ref.bytes - loaded, what, signal, stallMs: timeoutMs }, (value) => {
          buffer.set(value, loaded);
          loaded += value.byteLength;
          options.onProgress?.({ loaded, total: ref.bytes });
        });
      } catch (err) {
        // Bytes past the manifest's size are not the signed ones: an integrity failure of the artifact
        // (runs fall back to the origin), not the caller's payload_too_large.
        throw err instanceof TandemError && err.code === 'payload_too_large'
          ? new TandemError('artifact_hash_mismatch', `${what} is longer than its manifest's ${ref.bytes} bytes`, { cause: err })
          : errorFromFetchFailure(err, online(), `download ${ref.url}`);
      }
      if (loaded !== ref.bytes) {
        throw new TandemError('origin_unavailable', `download ${ref.url}: body ended at ${loaded} of ${ref.bytes} bytes`);
      }
    },
    options.retry,
    options.signal ? { signal: options.signal } : {},
    options.retryDeps,
  );
  const actual = await sha256Hex(buffer);
  if (actual !== ref.sha256) {
    throw new TandemError('artifact_hash_mismatch', `artifact bytes hash to ${actual}, the manifest says ${ref.sha256}`);
  }
  return buffer;
}
