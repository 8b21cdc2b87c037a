/**
 * The SDK with `rootKeys` against TUF's attacks, in Node: a fake edge serving a real root of trust, record
 * and signed manifests (client/test-support/fake-edge.ts), the real device runtime on onnxruntime-web's
 * WASM backend, and in-memory stores standing in for IndexedDB. Each attack asserts the typed error and
 * that nothing the install keeps (trust, manifests, model bytes, results) changed, and nothing ran.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEnvelope } from '../origin/repository.ts';
import { copyVersion, readVerifiedManifest, signedRepository, type TestRepository } from '../origin/test-support.ts';
import { decodeBase64 } from '../protocol/base64.ts';
import type { DsseEnvelope } from '../protocol/dsse.ts';
import { generateSigningKey, type SigningKey } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { signManifest } from '../protocol/signed-manifest.ts';
import { MAX_TIMESTAMP_BYTES } from '../protocol/trust/bounds.ts';
import { signRollout, type RolloutRecord } from '../protocol/rollout/rollout-record.ts';
import { signRoot, type RootDocument } from '../protocol/trust/root.ts';
import { signTimestamp, type TimestampRecord } from '../protocol/trust/timestamp.ts';
import type { TrustState } from '../protocol/trust/trust-state.ts';
import type { TandemConfig } from './config.ts';
import { CAPABLE_DEVICE } from './core/capabilities.ts';
import { createModelCache, type ArtifactMeta } from './core/model-cache.ts';
import type { ResultEntry } from './core/result-cache.ts';
import { memoryStore } from './core/store.ts';
import { TRUST_KEY, type StoredTrust } from './core/trust-rules.ts';
import { createDeviceRuntime, type OrtLike } from './runtime/device-runtime.ts';
import { rolloutStoreKey } from './rollout-check.ts';
import { createTandem, type TandemDeps } from './tandem.ts';
import { createFakeEdge, EDGE, type FakeEdge } from './test-support/fake-edge.ts';

const WASM_PATHS = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
const MODEL = 'mlp-classifier';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MANIFEST_PATH = `/v1/models/${MODEL}/manifest`;
const quiet = () => {};

let repo: TestRepository;
let edge: FakeEdge;
const manifests = new Map<string, Manifest>();
const versions: Record<string, { manifest: Manifest; envelope: DsseEnvelope }> = {};
const keys = {} as Record<'root' | 'timestamp' | 'release' | 'release2' | 'root2' | 'stranger', SigningKey>;
let root1: DsseEnvelope;

/** A root document of `version` naming these keys, one role each. */
function rootDocument(version: number, roles: { root?: SigningKey[]; release?: SigningKey[]; timestamp?: SigningKey[] } = {}): RootDocument {
  const named = { root: roles.root ?? [keys.root], release: roles.release ?? [keys.release], timestamp: roles.timestamp ?? [keys.timestamp] };
  const all = [...named.root, ...named.release, ...named.timestamp];
  return {
    _type: 'root',
    version,
    expires: new Date(Date.now() + 365 * DAY).toISOString(),
    keys: Object.fromEntries(all.map((k) => [k.keyid, k.publicKey])),
    roles: Object.fromEntries(Object.entries(named).map(([role, ks]) => [role, { keyids: ks.map((k) => k.keyid), threshold: 1 }])) as RootDocument['roles'],
  };
}

/** What the record says of a signed manifest: its payload's digest and size. */
async function digestOf(envelope: DsseEnvelope): Promise<{ sha256: string; bytes: number }> {
  const payload = decodeBase64(envelope.payload, 'manifest_signature_invalid');
  return { sha256: await sha256Hex(payload), bytes: payload.byteLength };
}

/** A timestamp record of `version` for the MLP, signed by the timestamp key unless `signer` says otherwise. */
async function record(
  version: number,
  options: { current?: string; live?: string[]; revoked?: string[]; expiresInMs?: number; signer?: SigningKey; rootVersion?: number } = {},
): Promise<DsseEnvelope> {
  const live = options.live ?? ['1.0.0', '1.1.0'];
  const document: TimestampRecord = {
    _type: 'timestamp',
    version,
    expires: new Date(Date.now() + (options.expiresInMs ?? HOUR)).toISOString(),
    rootVersion: options.rootVersion ?? 1,
    models: {
      [MODEL]: {
        current: options.current ?? '1.1.0',
        versions: Object.fromEntries(await Promise.all(live.map(async (v) => [v, await digestOf(versions[v]!.envelope)] as const))),
        revoked: options.revoked ?? [],
      },
    },
  };
  return signTimestamp(document, [options.signer ?? keys.timestamp]);
}

/** Serves `body` as the edge's answer on `path` (a man in the middle); other paths go to the routes. */
function serve(path: string, body: () => Response | Promise<Response>) {
  const previous = edge.intercept;
  edge.intercept = (p, request) => (p === path ? body() : previous?.(p, request));
}

/** A body that never ends: `sent()` says how much of it was read. */
function endless(): { response: () => Response; sent: () => number } {
  let sent = 0;
  return {
    response: () => new Response(new ReadableStream({ pull: (c) => void ((sent += 16384), c.enqueue(new Uint8Array(16384).fill(32))) })),
    sent: () => sent,
  };
}

/** A body whose headers arrive and whose bytes never do. */
const stalled = () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) }));

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  await copyVersion(repo, MODEL, '1.0.0', '1.1.0');
  for (const v of ['1.0.0', '1.1.0'])
    versions[v] = { manifest: await readVerifiedManifest(repo, MODEL, v), envelope: (await readEnvelope(repo.repository, MODEL, v)) as DsseEnvelope };
  keys.release = repo.key;
  for (const name of ['root', 'timestamp', 'release2', 'root2', 'stranger'] as const) keys[name] = await generateSigningKey();
  root1 = await signRoot(rootDocument(1), [keys.root]);
  edge = createFakeEdge({ repository: repo.repository, manifests, apiKey: 'app-key' });
});
afterAll(async () => {
  await repo?.cleanup();
});

// Each test starts from the same world: root version 1, record 1 (1.1.0 current, 1.0.0 live), 1.1.0 served.
beforeEach(async () => {
  edge.down = false;
  edge.intercept = undefined;
  edge.trust = { roots: [root1], timestamp: await record(1) };
  edge.rollout.clear();
  manifests.set(MODEL, versions['1.1.0']!.manifest);
  edge.requests.length = 0;
});

/** One "browser profile": stores that survive page loads, and a fresh SDK per page load, pinning the root keys only. */
function profile() {
  const stores = {
    resultStore: memoryStore<ResultEntry>(),
    manifestStore: memoryStore<unknown>(),
    clientIdStore: memoryStore<string>(),
    trustStore: memoryStore<unknown>(),
    bytes: memoryStore<Uint8Array>(),
    meta: memoryStore<ArtifactMeta>(),
  };
  let online = true;
  const page = (config: Partial<TandemConfig> = {}, deps: Partial<TandemDeps> = {}) =>
    createTandem(
      {
        edge: EDGE,
        rootKeys: { keys: [keys.root.publicKey], threshold: 1 },
        apiKey: 'app-key',
        wasmPaths: WASM_PATHS,
        retry: { baseDelayMs: 1, maxDelayMs: 2 },
        ...config,
      },
      {
        fetch: edge.fetch,
        runtime: createDeviceRuntime({
          ort: ortWeb as unknown as OrtLike,
          fetch: edge.fetch,
          modelCache: createModelCache(stores.bytes, stores.meta),
          warn: quiet,
        }),
        probe: async () => CAPABLE_DEVICE,
        resultStore: stores.resultStore,
        manifestStore: stores.manifestStore,
        clientIdStore: stores.clientIdStore,
        trustStore: stores.trustStore,
        online: () => online,
        persist: async () => true,
        warn: quiet,
        ...deps,
      },
    );
  /**
   * Everything the install keeps, to compare before and after an attack. When only the manifest is
   * refused, the record it came with was still good and accepted again: its time (`freshAt`) moves on.
   */
  const kept = () =>
    JSON.stringify({
      trust: [...stores.trustStore.map].map(([k, v]) => [k, { ...(v as StoredTrust), state: { ...(v as StoredTrust).state, freshAt: 'moves' } }]),
      manifests: [...stores.manifestStore.map],
      bytes: [...stores.bytes.map.keys()],
      meta: [...stores.meta.map],
      results: [...stores.resultStore.map.keys()],
    });
  const trust = () => stores.trustStore.map.get(TRUST_KEY) as StoredTrust | undefined;
  const storedManifest = () => stores.manifestStore.map.get(`manifest:${MODEL}`);
  return { page, stores, kept, trust, storedManifest, setOnline: (v: boolean) => (online = v) };
}

const x = (seed = 1) => ({ x: { data: new Float32Array(256).map((_, i) => Math.sin(i * seed)), dims: [1, 256] } });

/** Loads and runs the MLP on the device: model bytes and a result cached, the floor at 1.1.0. */
async function seen110(p: ReturnType<typeof profile>) {
  const model = await p.page().load(MODEL, { placement: 'device-only' });
  expect(model.version).toBe('1.1.0');
  expect((await model.run(x())).ranOn).toBe('device');
  return model;
}

describe('with rootKeys', () => {
  it('walks the root chain, takes the record, loads its current version, and keeps root, record and floors per install', async () => {
    const p = profile();
    const model = await p.page().load(MODEL, { placement: 'device-only' });
    expect(model.version).toBe('1.1.0');
    expect(edge.requests).toEqual(
      expect.arrayContaining(['GET /v1/trust/root/1.json', 'GET /v1/trust/root/2.json', 'GET /v1/trust/timestamp.json', `GET ${MANIFEST_PATH}`]),
    );
    expect(p.trust()?.state).toMatchObject<Partial<TrustState>>({ rootVersion: 1, timestampVersion: 1, floors: { [MODEL]: '1.1.0' } });
    expect(p.trust()?.root).toEqual(root1);

    // The next page load continues the chain from the stored root: version 1 is not fetched again.
    edge.requests.length = 0;
    await p.page().load(MODEL, { placement: 'origin-only' });
    expect(edge.requests).toContain('GET /v1/trust/root/2.json');
    expect(edge.requests).not.toContain('GET /v1/trust/root/1.json');
    // publicKeys are ignored beside rootKeys: the release key comes from the root.
    expect((await p.page({ publicKeys: [keys.stranger.publicKey] }).load(MODEL, { placement: 'origin-only' })).version).toBe('1.1.0');
  });

  it('rollback: a record older than one seen is refused (rollback_detected), and nothing kept changes', async () => {
    const p = profile();
    edge.trust!.timestamp = await record(2);
    await seen110(p);
    const before = p.kept();
    edge.trust!.timestamp = await record(1); // validly signed, unexpired, but older
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'rollback_detected' });
    expect(p.kept()).toBe(before);
  });

  it('rollback: an older manifest served as current is refused (rollback_detected); the install keeps 1.1.0', async () => {
    const p = profile();
    await seen110(p);
    const before = p.kept();
    manifests.set(MODEL, versions['1.0.0']!.manifest); // validly signed, live in the record, but not current
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'rollback_detected' });
    expect(p.kept()).toBe(before);
    // A fresh install is not fooled either: "current" is the record's, and so its first floor.
    const fresh = profile();
    await expect(fresh.page().load(MODEL)).rejects.toMatchObject({ code: 'rollback_detected', message: expect.stringMatching(/asked for the current/) });
    expect([fresh.storedManifest(), fresh.stores.bytes.map.size]).toEqual([undefined, 0]);
    // The edge honest again: 1.1.0, its bytes from the model cache.
    manifests.set(MODEL, versions['1.1.0']!.manifest);
    const again = await p.page().load(MODEL, { placement: 'device-only' });
    expect([again.version, again.device?.fromCache]).toEqual(['1.1.0', true]);
  });

  it('freeze: an expired record, and an expired manifest, are metadata_expired; nothing is kept', async () => {
    const p = profile();
    edge.trust!.timestamp = await record(1, { expiresInMs: -1000 });
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'metadata_expired' });
    expect(p.kept()).toBe(profile().kept());

    const expired = await signManifest({ ...versions['1.1.0']!.manifest, expires: new Date(Date.now() - 1000).toISOString() }, [keys.release]);
    const q = profile();
    // A record that names this very manifest, so only its expiry can refuse it.
    edge.trust!.timestamp = await signTimestamp(
      {
        _type: 'timestamp',
        version: 2,
        expires: new Date(Date.now() + HOUR).toISOString(),
        rootVersion: 1,
        models: { [MODEL]: { current: '1.1.0', versions: { '1.1.0': await digestOf(expired) }, revoked: [] } },
      },
      [keys.timestamp],
    );
    serve(MANIFEST_PATH, () => Response.json(expired));
    await expect(q.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({
      code: 'metadata_expired',
      message: expect.stringMatching(/^manifest /),
    });
    expect([q.storedManifest(), q.stores.bytes.map.size]).toEqual([undefined, 0]);
  });

  it('mix-and-match: a validly signed 1.1.0 that is not the one the record names is refused', async () => {
    const p = profile();
    const other = await signManifest({ ...versions['1.1.0']!.manifest, classLabels: Array.from({ length: 10 }, (_, i) => `other ${i}`) }, [keys.release]);
    serve(MANIFEST_PATH, () => Response.json(other));
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({
      code: 'manifest_signature_invalid',
      message: expect.stringMatching(/not the manifest timestamp record 1 names/),
    });
    expect([p.storedManifest(), p.stores.bytes.map.size]).toEqual([undefined, 0]);
  });

  it('untrusted keys: a root, a record or a manifest signed by a key the pinned root does not name is refused', async () => {
    const p = profile();
    edge.trust!.roots = [await signRoot(rootDocument(1, { root: [keys.stranger] }), [keys.stranger])];
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    edge.trust!.roots = [root1];
    edge.trust!.timestamp = await record(1, { signer: keys.stranger });
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    expect(p.kept()).toBe(profile().kept());

    edge.trust!.timestamp = await record(1);
    // The same payload (so the record's digest matches), signed by a key no root names.
    serve(MANIFEST_PATH, async () => Response.json(await signManifest(versions['1.1.0']!.manifest, [keys.stranger])));
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    expect([p.storedManifest(), p.stores.bytes.map.size]).toEqual([undefined, 0]);
  });

  it('rotation: a release key rotated through root version 2, then a root key through version 3; the same app keeps loading, and the old release key counts no more', async () => {
    const p = profile();
    await seen110(p);
    const resigned = await signManifest(versions['1.1.0']!.manifest, [keys.release2]);
    expect(await digestOf(resigned)).toEqual(await digestOf(versions['1.1.0']!.envelope)); // Same payload: the record's digests hold.
    edge.trust!.roots = [root1, await signRoot(rootDocument(2, { release: [keys.release2] }), [keys.root])];
    edge.trust!.timestamp = await record(2, { rootVersion: 2 });
    serve(MANIFEST_PATH, () => Response.json(resigned));
    const model = await p.page().load(MODEL, { placement: 'device-only' });
    expect([model.version, model.device?.fromCache, p.trust()?.state.rootVersion]).toEqual(['1.1.0', true, 2]);

    // Revoked key: a manifest only the old release key signed verifies with nothing in force.
    edge.intercept = undefined;
    const before = p.kept();
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    expect(p.kept()).toBe(before);

    // The root key itself rotated (version 3 signed by the old and the new root key): a fresh install,
    // pinning the old root key, follows the chain 1 → 2 → 3.
    edge.trust!.roots.push(await signRoot(rootDocument(3, { root: [keys.root2], release: [keys.release2] }), [keys.root, keys.root2]));
    serve(MANIFEST_PATH, () => Response.json(resigned));
    const fresh = profile();
    expect((await fresh.page().load(MODEL, { placement: 'origin-only' })).version).toBe('1.1.0');
    expect(fresh.trust()?.state.rootVersion).toBe(3);
    // A version 4 signed by the old root key alone does not follow: refused.
    edge.trust!.roots.push(await signRoot(rootDocument(4, { root: [keys.root], release: [keys.release] }), [keys.root]));
    await expect(fresh.page().load(MODEL, { placement: 'origin-only' })).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    expect(fresh.trust()?.state.rootVersion).toBe(3);
  });

  it('endless data: an oversized record, root or manifest is payload_too_large, an artifact artifact_hash_mismatch, read no further than its bound; nothing is kept', async () => {
    const p = profile();
    const body = endless();
    serve('/v1/trust/timestamp.json', body.response);
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(body.sent()).toBeLessThanOrEqual(MAX_TIMESTAMP_BYTES + 2 * 16384);
    edge.intercept = undefined;
    // A root that declares its size: refused before a byte is read.
    serve('/v1/trust/root/2.json', () => new Response(endless().response().body, { headers: { 'content-length': String(100 * 1024 * 1024) } }));
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/root version 2 declares/) });
    expect(p.kept()).toBe(profile().kept());
    edge.intercept = undefined;

    const manifest = endless();
    serve(MANIFEST_PATH, manifest.response);
    await expect(p.page().load(MODEL)).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(manifest.sent()).toBeLessThan(200 * 1024); // The record's size of the manifest, not 1 MiB.
    edge.intercept = undefined;

    const sha = versions['1.1.0']!.manifest.variants.find((v) => v.name === 'int8')!.artifact.sha256;
    serve(`/v1/artifacts/${sha}`, endless().response);
    // Bytes past the manifest's size are not the signed bytes: an integrity failure, which the origin can stand in for.
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'artifact_hash_mismatch' });
    expect([p.stores.bytes.map.size, p.stores.meta.map.size]).toEqual([0, 0]);
  });

  it('slow retrieval: a stalled record, manifest or artifact is deadline_exceeded within its deadline; nothing is kept', async () => {
    const p = profile();
    const config = { requestTimeoutMs: 100, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } };
    serve('/v1/trust/timestamp.json', stalled);
    let start = Date.now();
    await expect(p.page(config).load(MODEL)).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect(Date.now() - start).toBeLessThan(5000);
    expect(p.kept()).toBe(profile().kept());
    edge.intercept = undefined;

    // Headers that never come: the request itself is aborted at the deadline.
    edge.intercept = (path, request) =>
      path === MANIFEST_PATH ? new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason))) : undefined;
    start = Date.now();
    await expect(p.page(config).load(MODEL)).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect(Date.now() - start).toBeLessThan(5000);
    edge.intercept = undefined;

    const sha = versions['1.1.0']!.manifest.variants.find((v) => v.name === 'int8')!.artifact.sha256;
    serve(`/v1/artifacts/${sha}`, stalled);
    await expect(p.page(config).load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect([p.stores.bytes.map.size, p.stores.meta.map.size, p.storedManifest() !== undefined]).toEqual([0, 0, true]);
  });

  it('revocation: the next contact evicts the version from both caches, a held model stops running, and it is never loaded again', async () => {
    const p = profile();
    const first = p.page();
    const held = await first.load(MODEL, { placement: 'device-only' });
    expect((await held.run(x(3))).ranOn).toBe('device');
    expect([...p.stores.resultStore.map.keys()].some((k) => k.startsWith(`result:${MODEL}@1.1.0:`))).toBe(true);
    expect([...p.stores.meta.map.values()].map((m) => m.version)).toEqual(['1.1.0']);
    const beforeRevocation = edge.trust!.timestamp;

    edge.trust!.timestamp = await record(2, { current: '1.0.0', live: ['1.0.0'], revoked: ['1.1.0'] });
    manifests.set(MODEL, versions['1.0.0']!.manifest);
    // The next contact: an origin-only load touches no model bytes, yet the revoked ones go.
    const next = await p.page().load(MODEL, { placement: 'origin-only' });
    expect(next.version).toBe('1.0.0');
    expect([...p.stores.resultStore.map.keys()].filter((k) => k.includes('@1.1.0:'))).toEqual([]);
    expect([p.stores.bytes.map.size, p.stores.meta.map.size]).toEqual([0, 0]);

    // The page that still holds 1.1.0 learns of it at its own next contact, and refuses to run it.
    expect((await first.load(MODEL, { placement: 'origin-only' })).version).toBe('1.0.0');
    await expect(held.run(x(4))).rejects.toMatchObject({ code: 'version_revoked' });

    // Served again (as if the edge still picked it), or with the record from before the revocation: refused.
    const before = p.kept();
    manifests.set(MODEL, versions['1.1.0']!.manifest);
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'version_revoked' });
    edge.trust!.timestamp = beforeRevocation;
    await expect(p.page().load(MODEL, { placement: 'device-only' })).rejects.toMatchObject({ code: 'rollback_detected' });
    expect(p.kept()).toBe(before);
  });

  it('a fresh install does not start the device runtime to evict versions it never loaded', async () => {
    edge.trust!.timestamp = await record(2, { revoked: ['0.9.0'] });
    const p = profile();
    const asked: string[][] = [];
    const runtime = createDeviceRuntime({
      ort: ortWeb as unknown as OrtLike,
      fetch: edge.fetch,
      modelCache: createModelCache(p.stores.bytes, p.stores.meta),
      warn: quiet,
    });
    const watched = { ...runtime, init: async () => void asked.push(['init']), evictVersions: async (id: string, v: string[]) => (asked.push([id, ...v]), 0) };
    expect((await p.page({}, { runtime: watched }).load(MODEL, { placement: 'origin-only' })).version).toBe('1.1.0');
    expect(asked).toEqual([]);
    // Once loaded here, a new revocation reaches the model cache.
    edge.trust!.timestamp = await record(3, { revoked: ['0.9.0', '0.9.1'] });
    await p.page({}, { runtime: watched }).load(MODEL, { placement: 'origin-only' });
    expect(asked).toEqual([['init'], [MODEL, '0.9.1']]);
  });

  it('offline: a cached model runs within offlineMaxAgeMs of the last fresh record, then metadata_expired says to connect', async () => {
    const p = profile();
    await seen110(p);
    edge.down = true;
    p.setOnline(false);
    const offline = await p.page().load(MODEL, { placement: 'device-only' });
    expect([offline.manifestSource, offline.device?.fromCache, (await offline.run(x(5))).ranOn]).toEqual(['cache', true, 'device']);

    const later = (ms: number) => ({ now: () => Date.now() + ms });
    await expect(p.page({}, later(8 * DAY)).load(MODEL)).rejects.toMatchObject({ code: 'metadata_expired', message: expect.stringMatching(/connect/) });
    await expect(p.page({ offlineMaxAgeMs: 60_000 }, later(2 * 60_000)).load(MODEL)).rejects.toMatchObject({ code: 'metadata_expired' });
    expect((await p.page({ offlineMaxAgeMs: 60_000 }, later(30_000)).load(MODEL, { placement: 'device-only' })).manifestSource).toBe('cache');
    // An install that never reached the edge has nothing to stand in: the network's error.
    const never = profile();
    never.setOnline(false);
    await expect(never.page().load(MODEL)).rejects.toMatchObject({ code: 'offline' });
  });

  it('rollout record: the edge’s pick loads while the signed record weighs it; a version it gives no weight is version_not_in_rollout, unless asked for by name', async () => {
    const rollout = (version: number, weights: Record<string, number>, signer = keys.release): Promise<DsseEnvelope> =>
      signRollout(
        {
          _type: 'rollout',
          model: MODEL,
          version,
          expires: new Date(Date.now() + DAY).toISOString(),
          stable: '1.0.0',
          weights,
          rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
        } satisfies RolloutRecord,
        [signer],
      );
    const p = profile();
    edge.rollout.set(MODEL, await rollout(1, { '1.0.0': 90, '1.1.0': 10 }));
    expect((await p.page().load(MODEL, { placement: 'origin-only' })).version).toBe('1.1.0');
    expect(edge.requests).toContain(`GET /v1/rollout/${MODEL}`);
    expect(p.stores.trustStore.map.get(rolloutStoreKey(MODEL))).toMatchObject({ version: 1 });
    // 1.1.0 rolled back by a newer record: an edge that still hands it out is refused; nothing is run or kept of it.
    edge.rollout.set(MODEL, await rollout(2, { '1.0.0': 100, '1.1.0': 0 }));
    const fresh = profile();
    await expect(fresh.page().load(MODEL)).rejects.toMatchObject({ code: 'version_not_in_rollout' });
    expect([fresh.storedManifest(), fresh.stores.bytes.map.size]).toEqual([undefined, 0]);
    // By name, the app's own choice: taken as the timestamp record allows.
    expect((await fresh.page().load(MODEL, { version: '1.1.0', placement: 'origin-only' })).version).toBe('1.1.0');
    // The old split brought back is a rollback for the install that saw record 2; a forged record is refused.
    edge.rollout.set(MODEL, await rollout(1, { '1.0.0': 90, '1.1.0': 10 }));
    await expect(fresh.page().load(MODEL)).rejects.toMatchObject({ code: 'rollback_detected' });
    edge.rollout.set(MODEL, await rollout(3, { '1.0.0': 0, '1.1.0': 100 }, keys.stranger));
    await expect(profile().page().load(MODEL)).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
  });

  it('rejects a config without publicKeys or rootKeys, and a bad offlineMaxAgeMs, at creation', () => {
    expect(() => createTandem({ edge: EDGE })).toThrow(
      expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(/publicKeys or rootKeys/) }),
    );
    expect(() => createTandem({ edge: EDGE, rootKeys: [], offlineMaxAgeMs: -1 })).toThrow(/offlineMaxAgeMs/);
  });
});
