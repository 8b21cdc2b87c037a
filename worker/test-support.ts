/**
 * Fixtures for the workerd tests: signed manifests in the test R2 bucket, API keys, and an `Env` for the
 * app with the vars a test needs.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import type { Hono } from 'hono';
import { encodeBase64 } from '../protocol/base64.ts';
import { generateSigningKey, type SigningKey } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { sampleManifest } from '../protocol/test-support/manifest-arbitrary.ts';
import { envelopeKey } from '../protocol/repository-layout.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { signManifest } from '../protocol/signed-manifest.ts';
import { hashApiKey } from './auth/api-keys.ts';
import type { EdgeEnv } from './context.ts';
import { artifactObjectKey } from './storage/layout.ts';

/** The shared sample manifest, renamed and pointing at `artifact`. */
export function manifestFor(id: string, version: string, artifact: { sha256: string; bytes: number }): Manifest {
  const base = sampleManifest({ id, version });
  const variant = base.variants[0]!;
  return {
    ...base,
    variants: [
      {
        ...variant,
        artifact: { ...variant.artifact, sha256: artifact.sha256, bytes: artifact.bytes },
        inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
        requirements: { ...variant.requirements, backends: ['wasm'] },
      },
    ],
  };
}

export interface Seeded {
  key: SigningKey;
  artifact: Uint8Array;
  artifactSha256: string;
}

/** Puts `versions` of model `id` (signed by a fresh key) and one artifact into the test bucket. */
export async function seedModel(id: string, versions: readonly string[]): Promise<Seeded> {
  const key = await generateSigningKey();
  const artifact = new Uint8Array(100_000).map((_, i) => (i * 31 + 7) & 0xff);
  const artifactSha256 = await sha256Hex(artifact);
  await env.MODELS.put(artifactObjectKey(artifactSha256), artifact);
  for (const version of versions) {
    const envelope = await signManifest(manifestFor(id, version, { sha256: artifactSha256, bytes: artifact.length }), [key]);
    await env.MODELS.put(envelopeKey(id, version), JSON.stringify(envelope));
  }
  return { key, artifact, artifactSha256 };
}

export const KEYS = { infer: 'key-infer', catalog: 'key-catalog', slow: 'key-slow', leased: 'key-leased', admin: 'key-admin' } as const;

export async function apiKeysVar(): Promise<string> {
  return JSON.stringify([
    { name: 'infer', sha256: await hashApiKey(KEYS.infer), scopes: ['infer', 'catalog'] },
    { name: 'catalog', sha256: await hashApiKey(KEYS.catalog), scopes: ['catalog'] },
    { name: 'slow', sha256: await hashApiKey(KEYS.slow), scopes: ['infer'], ratePerSecond: 1, burst: 2 },
    { name: 'leased', sha256: await hashApiKey(KEYS.leased), scopes: ['infer'], ratePerSecond: 1, burst: 5 },
    { name: 'admin', sha256: await hashApiKey(KEYS.admin), scopes: ['admin'] },
  ]);
}

export function testEnv(
  vars: Partial<Record<'ORIGINS' | 'TRUSTED_KEYS' | 'ROOT_KEYS' | 'CANARY' | 'API_KEYS' | 'ORIGIN_TOKEN' | 'TUNING' | 'REQUIRE_KEY_FOR_CATALOG', string>>,
): Env {
  return { ...env, ...vars } as Env;
}

/** Stored envelope `id@version` with its payload edited after signing: it no longer verifies. */
export async function tamperStoredEnvelope(id: string, version: string): Promise<void> {
  const text = await (await env.MODELS.get(envelopeKey(id, version)))!.text();
  const envelope = JSON.parse(text) as { payload: string };
  const manifest = JSON.parse(atob(envelope.payload)) as { classLabels?: string[] };
  manifest.classLabels = ['evil', 'labels'];
  envelope.payload = encodeBase64(new TextEncoder().encode(JSON.stringify(manifest)));
  await env.MODELS.put(envelopeKey(id, version), JSON.stringify(envelope));
}

/** One request through `app` with an execution context, waiting for its `waitUntil` work. */
export async function fetchApp(app: Hono<EdgeEnv>, path: string, init: RequestInit, environment: Env): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`https://edge.test${path}`, init), environment, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The error code of a Tandem error answer. */
export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}
