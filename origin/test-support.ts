/**
 * Fixtures for origin tests: a model repository built by models/ (through the shared build cache) into a
 * temporary folder and signed with a key made for the test, and a small OIP client.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildModels } from '../models/build.ts';
import { importModel } from '../models/import/import-model.ts';
import { readEnvelope } from './repository.ts';
import { generateSigningKey, loadTrustedKeys, type SigningKey } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { ENVELOPE_FILE } from '../protocol/repository-layout.ts';
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  decodeInferResponse,
  encodeInferRequest,
  requestBinaryOutputs,
  type InferRequest,
  type InferResponse,
} from '../protocol/oip-codec.ts';
import { parseErrorBody, type TandemError } from '../protocol/errors.ts';
import { signManifest, verifyManifest } from '../protocol/signed-manifest.ts';
import { loadOriginConfig, type OriginConfig } from './config.ts';
import { startOrigin, type RunningOrigin } from './server.ts';
import type { Logger } from './app.ts';

export const INFER_TOKEN = 'test-infer-token';
export const ADMIN_TOKEN = 'test-admin-token';

export interface TestRepository {
  repository: string;
  key: SigningKey;
  trustedKeys: string;
  cleanup(): Promise<void>;
}

export async function signedRepository(only?: readonly string[]): Promise<TestRepository> {
  const repository = await mkdtemp(join(tmpdir(), 'tandem-origin-repo-'));
  const key = await generateSigningKey();
  await buildModels({ repository, sign: (m) => signManifest(m, [key]), ...(only ? { only } : {}) });
  return {
    repository,
    key,
    trustedKeys: JSON.stringify([key.publicKey]),
    cleanup: () => rm(repository, { recursive: true, force: true }),
  };
}

/**
 * A repository of these ONNX files, each imported at 1.0.0 as a user would (`tandem import`, the origin
 * variant only) and signed with a key made for the test.
 */
export async function importedRepository(models: Readonly<Record<string, Uint8Array>>): Promise<TestRepository> {
  const work = await mkdtemp(join(tmpdir(), 'tandem-origin-imported-'));
  const repository = join(work, 'repository');
  const key = await generateSigningKey();
  for (const [id, bytes] of Object.entries(models)) {
    const model = join(work, `${id}.onnx`);
    await writeFile(model, bytes);
    await importModel({ model, id, version: '1.0.0', repository, device: 'none' }, { signingKey: key });
  }
  return { repository, key, trustedKeys: JSON.stringify([key.publicKey]), cleanup: () => rm(work, { recursive: true, force: true }) };
}

/** Batching that waits `fillMs` for a batch to fill, so requests sent together are merged when they may be. */
export function fillingBatches(fillMs: number): Pick<OriginConfig, 'batching'> {
  return { batching: { maxBatchSize: 64, maxQueueDelayMs: fillMs, maxQueueRows: 1024, concurrency: 1, dispatch: 'delay' } };
}

/** A stored version's manifest, verified with the repository's key. */
export async function readVerifiedManifest(repo: TestRepository, id: string, version = '1.0.0'): Promise<Manifest> {
  return (await verifyManifest(await readEnvelope(repo.repository, id, version), await loadTrustedKeys(repo.trustedKeys))).manifest;
}

/** Version `from`'s files stored again as version `to` and re-signed: a new version with the same weights. */
export async function copyVersion(repo: TestRepository, id: string, from: string, to: string): Promise<Manifest> {
  const manifest = { ...(await readVerifiedManifest(repo, id, from)), version: to };
  const dir = join(repo.repository, id, to);
  await cp(join(repo.repository, id, from), dir, { recursive: true });
  await writeFile(join(dir, ENVELOPE_FILE), JSON.stringify(await signManifest(manifest, [repo.key]), null, 2));
  return manifest;
}

/** Version `version` of `from` stored again as model `to` (the manifest's id changed) and re-signed: another model with the same weights. */
export async function copyModel(repo: TestRepository, from: string, to: string, version = '1.0.0'): Promise<Manifest> {
  const manifest = { ...(await readVerifiedManifest(repo, from, version)), id: to };
  const dir = join(repo.repository, to, version);
  await cp(join(repo.repository, from, version), dir, { recursive: true });
  await writeFile(join(dir, ENVELOPE_FILE), JSON.stringify(await signManifest(manifest, [repo.key]), null, 2));
  return manifest;
}

/** The name `publishFp32DeviceVariant` gives the device variant. */
export const FP32_DEVICE_VARIANT = 'fp32-device';

/**
 * `from` copied as `to`, its device variant running the fp32 file: the variant that micro-batches in the
 * Web Worker (the built-in dynamic int8 one never does: its activation ranges span the batch).
 */
export async function publishFp32DeviceVariant(repo: TestRepository, from: string, to: string, version = '1.0.0'): Promise<Manifest> {
  const copied = await copyModel(repo, from, to, version);
  const fp32 = copied.variants.find((v) => v.name === 'fp32');
  const device = copied.variants.find((v) => v.tier === 'device');
  if (!fp32 || !device) throw new Error(`${from} has no fp32 and device variants to combine`);
  const manifest: Manifest = {
    ...copied,
    variants: [fp32, { ...device, name: FP32_DEVICE_VARIANT, artifact: fp32.artifact, quantization: { method: 'none' } }],
  };
  await writeFile(join(repo.repository, to, version, ENVELOPE_FILE), JSON.stringify(await signManifest(manifest, [repo.key]), null, 2));
  return manifest;
}

export function testConfig(repo: TestRepository, overrides: Partial<OriginConfig> = {}): OriginConfig {
  return loadOriginConfig(
    {
      TANDEM_ORIGIN_TOKEN: INFER_TOKEN,
      TANDEM_ADMIN_TOKEN: ADMIN_TOKEN,
      TANDEM_TRUSTED_KEYS: repo.trustedKeys,
      TANDEM_INTRA_OP_THREADS: '1',
    },
    { repository: repo.repository, trustedKeysFile: '/nonexistent' },
    { port: 0, ...overrides },
  );
}

/** A logger that keeps every line, for assertions on the request log. */
export function collectingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export async function startTestOrigin(repo: TestRepository, overrides: Partial<OriginConfig> = {}) {
  const { logger, lines } = collectingLogger();
  const origin: RunningOrigin = await startOrigin(testConfig(repo, overrides), { logger, processMetrics: false });
  return { origin, lines };
}

export interface InferOptions {
  binary?: boolean;
  version?: string;
  token?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type InferResult = { ok: true; response: InferResponse; res: Response } | { ok: false; error: TandemError; res: Response };

/** POSTs an OIP infer request and decodes the answer, or the typed error. */
export async function infer(url: string, model: string, request: InferRequest, options: InferOptions = {}): Promise<InferResult> {
  const binary = options.binary ?? false;
  const encoded = encodeInferRequest(binary ? requestBinaryOutputs(request) : request, { binary });
  const path = options.version ? `/v2/models/${model}/versions/${options.version}/infer` : `/v2/models/${model}/infer`;
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    body: encoded.body,
    headers: { ...encoded.headers, authorization: `Bearer ${options.token ?? INFER_TOKEN}`, ...options.headers },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) {
    let json: unknown = null;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      // Not JSON: parseErrorBody falls back to the status.
    }
    return { ok: false, error: parseErrorBody(res.status, json), res };
  }
  return { ok: true, response: decodeInferResponse(body, res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH)), res };
}

/** Deterministic pseudo-random floats, so failures reproduce. */
export function randomFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}
