/**
 * Downloads an artifact with progress, resuming an interrupted body with a `Range` request from the byte
 * it stopped at, then checks size and SHA-256 against the manifest. The bytes leave this function only
 * after they hashed right: a mismatch is `artifact_hash_mismatch`, and nothing is cached or run.
 */
import { TandemError } from '../../protocol/errors.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { errorFromFetchFailure, errorFromResponse } from './error-mapping.ts';
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
}

/**
 * @throws TandemError `artifact_hash_mismatch`, `aborted`, `offline`, `origin_unavailable`, or the edge's error.
 * @example
 * const bytes = await downloadArtifact({ url, sha256, bytes: 1339919 }, { fetch, retry: DEFAULT_RETRY, onProgress });
 */
export async function downloadArtifact(ref: ArtifactRef, options: DownloadOptions): Promise<Uint8Array> {
  const buffer = new Uint8Array(ref.bytes);
  let loaded = 0;
  const online = options.online ?? (() => true);
  options.onProgress?.({ loaded, total: ref.bytes });
  await retry(
    async () => {
      throwIfAborted(options.signal);
      const headers: Record<string, string> = { ...options.headers };
      if (loaded > 0) headers.range = `bytes=${loaded}-`;
      let res: Response;
      try {
        res = await options.fetch(ref.url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
      } catch (err) {
        throw errorFromFetchFailure(err, online(), `download ${ref.url}`);
      }
      if (!res.ok) throw await errorFromResponse(res);
      // A server that ignores Range answers 200 with the whole file: start over.
      if (loaded > 0 && res.status !== 206) loaded = 0;
      if (!res.body) throw new TandemError('origin_unavailable', `download ${ref.url}: empty body`);
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (loaded + value.byteLength > ref.bytes) {
            throw new TandemError('artifact_hash_mismatch', `artifact ${ref.sha256} is longer than the manifest's ${ref.bytes} bytes`);
          }
          buffer.set(value, loaded);
          loaded += value.byteLength;
          options.onProgress?.({ loaded, total: ref.bytes });
        }
      } catch (err) {
        throw errorFromFetchFailure(err, online(), `download ${ref.url}`);
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
