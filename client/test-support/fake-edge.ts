/**
 * A stand-in for the edge in Node tests, as a `fetch`: it serves signed manifests and artifacts (with
 * Range) straight from a built model repository, and forwards OIP infer requests to a real origin when one
 * is given (swapping the app's API key for the origin's token, as the edge does). It counts requests and
 * can be switched off (every request fails like a dead network) or made to fail artifact bodies midway.
 */
import type { Manifest } from '../../protocol/manifest.ts';
import { readArtifact, readEnvelope } from '../../origin/repository.ts';

export interface FakeEdgeOptions {
  repository: string;
  manifests: ReadonlyMap<string, Manifest>;
  /** The real origin to forward infer requests to, and its token. */
  origin?: { url: string; token: string };
  /** The API key the edge accepts. */
  apiKey?: string;
}

export interface FakeEdge {
  fetch: typeof fetch;
  /** When true, every request rejects with a TypeError, as a dead network does. */
  down: boolean;
  /** Paths requested, in order. */
  requests: string[];
  /** Replace an artifact's bytes (to test hash mismatches). */
  corrupt: Set<string>;
}

export const EDGE = 'https://edge.test';

export function createFakeEdge(options: FakeEdgeOptions): FakeEdge {
  const edge: FakeEdge = {
    down: false,
    requests: [],
    corrupt: new Set(),
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      edge.requests.push(`${request.method} ${url.pathname}`);
      if (edge.down) throw new TypeError('fetch failed');
      if (options.apiKey && request.headers.get('authorization') !== `Bearer ${options.apiKey}`) {
        return Response.json({ error: { code: 'unauthorized', message: 'bad key' } }, { status: 401 });
      }
      let m = /^\/v1\/models\/([^/]+)\/manifest$/.exec(url.pathname);
      if (m) {
        const manifest = options.manifests.get(m[1]!);
        if (!manifest) return Response.json({ error: { code: 'model_not_found', message: 'no such model' } }, { status: 404 });
        return Response.json(await readEnvelope(options.repository, manifest.id, manifest.version));
      }
      m = /^\/v1\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname);
      if (m) {
        for (const manifest of options.manifests.values()) {
          const variant = manifest.variants.find((v) => v.artifact.sha256 === m![1]);
          if (!variant) continue;
          let bytes: Uint8Array<ArrayBuffer> = await readArtifact(options.repository, manifest.id, manifest.version, variant.artifact.path) as Uint8Array<ArrayBuffer>;
          if (edge.corrupt.has(m[1]!)) (bytes = bytes.slice())[100]! ^= 0xff;
          const range = /^bytes=(\d+)-$/.exec(request.headers.get('range') ?? '');
          if (range) {
            const from = Number(range[1]);
            return new Response(bytes.slice(from), { status: 206, headers: { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` } });
          }
          return new Response(bytes, { headers: { 'content-length': String(bytes.length) } });
        }
        return Response.json({ error: { code: 'not_found', message: 'no such artifact' } }, { status: 404 });
      }
      if (/^\/v2\/models\/.+\/infer$/.test(url.pathname) && options.origin) {
        const headers = new Headers(request.headers);
        headers.set('authorization', `Bearer ${options.origin.token}`);
        return fetch(`${options.origin.url}${url.pathname}`, { method: 'POST', headers, body: await request.arrayBuffer(), signal: request.signal });
      }
      return Response.json({ error: { code: 'not_found', message: 'no such route' } }, { status: 404 });
    },
  };
  return edge;
}
