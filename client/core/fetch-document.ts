/**
 * One signed JSON document from the edge (a manifest, a root version, the timestamp record): revalidated
 * on every request (`no-cache`: a 304 is cheap, and news such as a revocation is seen at once, not after
 * a max-age), read within its size bound and deadline (./bounded-read.ts), retried with backoff. The
 * caller verifies what it gets: this module only fetches.
 */
import { TandemError } from '../../protocol/errors.ts';
import { deadlineSignal, errorFromAbort, readBody, readErrorText } from './bounded-read.ts';
import { errorFromAnswer, errorFromFetchFailure } from './error-mapping.ts';
import { retry, type RetryDeps, type RetryPolicy } from './retry.ts';

/** Where the SDK's documents come from: what the deps of each caller (manifests, trust, rollout, stand-ins) hold. */
export interface DocumentSource {
  fetch: typeof fetch;
  /** The headers of every edge request (API key, client id). */
  headers: () => Promise<Record<string, string>>;
  /** Deadline of each attempt, ms. */
  timeoutMs: number;
  online: () => boolean;
  retry: RetryPolicy;
  retryDeps?: RetryDeps | undefined;
}

/** One document: its bound and name, and how to answer a 404. */
export interface DocumentRequest {
  /** The most bytes the document may have. */
  bound: number;
  /** Names it in messages, e.g. `root version 2`. */
  what: string;
  signal?: AbortSignal | undefined;
  /** Answer undefined for a 404 (a document that does not exist yet) instead of the edge's error. */
  missingOk?: boolean;
}

/**
 * @returns the parsed JSON, or undefined for a 404 when `missingOk` (default true).
 * @throws TandemError `payload_too_large`, `deadline_exceeded`, `manifest_signature_invalid` (not JSON),
 *   `offline`, `origin_unavailable`, `aborted`, or the edge's error.
 * @example
 * const envelope = await fetchDocument(`${edge}/v1/trust/timestamp.json`, { fetch, headers, timeoutMs: 30_000, online, retry: DEFAULT_RETRY }, { bound: MAX_TIMESTAMP_BYTES, what: 'timestamp record' });
 */
export async function fetchDocument(url: string, source: DocumentSource, options: DocumentRequest): Promise<unknown> {
  const { what } = options;
  const headers = await source.headers();
  return retry(
    async () => {
      const signal = deadlineSignal(source.timeoutMs, options.signal);
      let res: Response;
      try {
        res = await source.fetch(url, { headers, cache: 'no-cache', signal });
      } catch (err) {
        throw signal.aborted ? errorFromAbort(signal, what) : errorFromFetchFailure(err, source.online(), what);
      }
      if (res.status === 404 && options.missingOk !== false) {
        await res.body?.cancel().catch(() => {});
        return undefined;
      }
      if (!res.ok) throw errorFromAnswer(res, await readErrorText(res, signal));
      let bytes: Uint8Array;
      try {
        bytes = await readBody(res, { bound: options.bound, what, signal });
      } catch (err) {
        throw errorFromFetchFailure(err, source.online(), what);
      }
      try {
        return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      } catch (cause) {
        // A 200 that is not JSON is no document at all (a captive portal's page, a proxy's): the edge was
        // not really reached, so it is retried, and then the stored copy is used, as when offline.
        throw new TandemError('origin_unavailable', `the answer for the ${what} is not JSON`, { cause });
      }
    },
    source.retry,
    options.signal ? { signal: options.signal } : {},
    source.retryDeps,
  );
}
