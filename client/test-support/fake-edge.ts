/**
 * A stand-in for the edge in Node tests, as a `fetch`: it serves signed manifests and artifacts (with
 * Range) straight from a built model repository, the update framework's metadata as the edge's
 * `/v1/trust/` routes do (root versions, the timestamp record: whatever the test put in `trust`), rollout
 * records as `/v1/rollout/<model>` does (whatever the test put in `rollout`), and forwards OIP infer and
 * model-version readiness requests to a real origin when one is given (swapping the app's API key for the
 * origin's token, as the edge does). A manifest asked by `?version=` and the OIP model metadata's
 * `versions` come from the repository on disk, as the edge's come from R2. It counts requests, can be
 * switched off (every request fails like a dead network), made to fail artifact bodies midway, or made to
 * answer any path as an attacker would (`intercept`: a replayed document, an endless or a stalled body).
 */
import { variantForTier, type Manifest } from '../../protocol/manifest.ts';
import type { LoadRequest } from '../runtime/contract.ts';
import { modelMetadata } from '../../protocol/oip-metadata.ts';
import { listModelVersions, readArtifact, readEnvelope } from '../../origin/repository.ts';

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
  /** What `/v1/trust/` serves: root versions 1..n in order, and the record; undefined: 404, as an edge without ROOT_KEYS. */
  trust: { roots: unknown[]; timestamp: unknown } | undefined;
  /** What `/v1/rollout/<model>` serves, by model (a signed rollout record); none: 404, as an edge without one. */
  rollout: Map<string, unknown>;
  /** Answers a request before the routes do, when it returns a response (a man in the middle). */
  intercept: ((path: string, request: Request) => Response | Promise<Response> | undefined) | undefined;
}

export const EDGE = 'https://edge.test';

/** What the SDK asks its device runtime to load for `variantName` of `manifest`, its artifact at the fake edge. */
export function loadRequestFor(manifest: Manifest, variantName: string, backends: LoadRequest['backends'] = ['webgpu', 'wasm']): LoadRequest {
  const variant = manifest.variants.find((v) => v.name === variantName)!;
  return {
    requestId: `${manifest.id}-${variantName}`,
    modelId: manifest.id,
    version: manifest.version,
    variant: variant.name,
    artifact: { url: `${EDGE}/v1/artifacts/${variant.artifact.sha256}`, sha256: variant.artifact.sha256, bytes: variant.artifact.bytes },
    headers: {},
    backends,
  };
}

export function createFakeEdge(options: FakeEdgeOptions): FakeEdge {
  const edge: FakeEdge = {
    down: false,
    requests: [],
    corrupt: new Set(),
    trust: undefined,
    rollout: new Map(),
    intercept: undefined,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      edge.requests.push(`${request.method} ${url.pathname}`);
      if (edge.down) throw new TypeError('fetch failed');
      const intercepted = await edge.intercept?.(url.pathname, request);
      if (intercepted) return intercepted;
      if (options.apiKey && request.headers.get('authorization') !== `Bearer ${options.apiKey}`) {
        return Response.json({ error: { code: 'unauthorized', message: 'bad key' } }, { status: 401 });
      }
      let m = /^\/v1\/trust\/root\/([1-9]\d*)\.json$/.exec(url.pathname);
      if (m) {
        const root = edge.trust?.roots[Number(m[1]) - 1];
        return root === undefined ? Response.json({ error: { code: 'not_found', message: `no root version ${m[1]}` } }, { status: 404 }) : Response.json(root);
      }
      if (url.pathname === '/v1/trust/timestamp.json') {
        return edge.trust ? Response.json(edge.trust.timestamp) : Response.json({ error: { code: 'not_found', message: 'no root of trust' } }, { status: 404 });
      }
      m = /^\/v1\/rollout\/([^/]+)$/.exec(url.pathname);
      if (m) {
        const record = edge.rollout.get(m[1]!);
        return record === undefined ? Response.json({ error: { code: 'not_found', message: 'no rollout record' } }, { status: 404 }) : Response.json(record);
      }
      m = /^\/v1\/models\/([^/]+)\/manifest$/.exec(url.pathname);
      if (m) {
        const manifest = options.manifests.get(m[1]!);
        if (!manifest) return Response.json({ error: { code: 'model_not_found', message: 'no such model' } }, { status: 404 });
        const version = url.searchParams.get('version');
        if (version !== null) {
          const held = (await listModelVersions(options.repository)).some((v) => v.id === manifest.id && v.version === version);
          if (!held) return Response.json({ error: { code: 'model_not_found', message: `no version ${version}` } }, { status: 404 });
        }
        return Response.json(await readEnvelope(options.repository, manifest.id, version ?? manifest.version));
      }
      m = /^\/v2\/models\/([^/]+)$/.exec(url.pathname);
      if (m && request.method === 'GET') {
        const manifest = options.manifests.get(m[1]!);
        if (!manifest) return Response.json({ error: { code: 'model_not_found', message: 'no such model' } }, { status: 404 });
        const versions = (await listModelVersions(options.repository)).filter((v) => v.id === manifest.id).map((v) => v.version);
        return Response.json(modelMetadata(manifest.id, versions, variantForTier(manifest, 'origin')!));
      }
      if (/^\/v2\/models\/[^/]+\/versions\/[^/]+\/ready$/.test(url.pathname) && options.origin) {
        return fetch(`${options.origin.url}${url.pathname}`, { headers: { authorization: `Bearer ${options.origin.token}` }, signal: request.signal });
      }
      m = /^\/v1\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname);
      if (m) {
        for (const manifest of options.manifests.values()) {
          const variant = manifest.variants.find((v) => v.artifact.sha256 === m![1]);
          if (!variant) continue;
          let bytes: Uint8Array<ArrayBuffer> = (await readArtifact(
            options.repository,
            manifest.id,
            manifest.version,
            variant.artifact.path,
          )) as Uint8Array<ArrayBuffer>;
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
