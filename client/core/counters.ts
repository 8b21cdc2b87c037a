/**
 * Observable counters of network requests, by kind, for tests and the demo ("a second load makes no
 * artifact request"). A counting `fetch` wraps the real one; the kind comes from the edge route.
 */

export interface NetworkCounts {
  manifest: number;
  artifact: number;
  infer: number;
  other: number;
}

export function emptyCounts(): NetworkCounts {
  return { manifest: 0, artifact: 0, infer: 0, other: 0 };
}

export function requestKind(url: string): keyof NetworkCounts {
  const path = new URL(url, 'http://x').pathname;
  if (/\/v1\/models\/[^/]+\/manifest$/.test(path)) return 'manifest';
  if (/\/v1\/artifacts\/[0-9a-f]{64}$/.test(path)) return 'artifact';
  if (/\/v2\/models\/.+\/infer$/.test(path)) return 'infer';
  return 'other';
}

/** Wraps `fetch` so every request bumps `counts[kind]`. */
export function countingFetch(inner: typeof fetch, counts: NetworkCounts): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    counts[requestKind(url)]++;
    return inner(input, init);
  };
}
