/**
 * Fixtures for the edge's integration tests: a signed repository holding mlp-classifier 1.0.0 and a
 * 1.1.0 (the same model re-signed under a new version, so a canary has two versions to split between),
 * origins as real child processes (so one can be killed), and the edge under `wrangler dev`.
 */
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDocument } from '../../models/trust/metadata-store.ts';
import { envelopeKey, rolloutKey } from '../../protocol/repository-layout.ts';
import { encodeBase64 } from '../../protocol/base64.ts';
import { signRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { spawnOrigin as spawnOriginProcess, type OriginProcess } from '../../stack/origin-process.ts';
import { copyVersion, INFER_TOKEN, signedRepository, type TestRepository } from '../../origin/test-support.ts';

/** A repository with mlp-classifier 1.0.0 and 1.1.0, both signed by the test key. */
export async function canaryRepository(): Promise<TestRepository> {
  const repo = await signedRepository(['mlp-classifier']);
  await copyVersion(repo, 'mlp-classifier', '1.0.0', '1.1.0');
  return repo;
}

/**
 * Signs `model`'s rollout record with the repository's key and stores it under `_rollout/`, as `tandem
 * rollout` does; it expires in a day.
 */
export async function writeRollout(repo: TestRepository, record: Omit<RolloutRecord, '_type' | 'expires'>): Promise<void> {
  const full: RolloutRecord = { _type: 'rollout', expires: new Date(Date.now() + 86_400_000).toISOString(), ...record };
  await writeDocument(repo.repository, rolloutKey(record.model), await signRollout(full, [repo.key]));
}

/** A copy of the repository without `version` of `id` (a canary rolled back and dropped), for an origin that lacks it. */
export async function repositoryWithout(repo: TestRepository, id: string, version: string): Promise<TestRepository> {
  const repository = `${repo.repository}-without-${id}-${version}`;
  await cp(repo.repository, repository, { recursive: true });
  await rm(join(repository, id, version), { recursive: true, force: true });
  return { ...repo, repository, cleanup: () => rm(repository, { recursive: true, force: true }) };
}

/**
 * Version `to` of `id` stored on disk with its manifest edited after signing: every origin refuses it at
 * load (503 `model_not_ready` for requests that name it), and the edge leaves it out of its catalog.
 */
export async function refusedVersion(repo: TestRepository, id: string, from: string, to: string): Promise<void> {
  await copyVersion(repo, id, from, to);
  const path = join(repo.repository, id, to, 'manifest.dsse.json');
  const envelope = JSON.parse(await readFile(path, 'utf8')) as { payload: string };
  const manifest = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { classLabels?: string[] };
  envelope.payload = encodeBase64(new TextEncoder().encode(JSON.stringify({ ...manifest, classLabels: [...(manifest.classLabels ?? [])].reverse() })));
  await writeFile(path, JSON.stringify(envelope));
}

/** A copy of a stored envelope with its payload edited after signing, to be seeded as `tampered/1.0.0`. */
export async function tamperedEnvelope(repo: TestRepository): Promise<{ key: string; body: string }> {
  const envelope = JSON.parse(await readFile(join(repo.repository, 'mlp-classifier', '1.0.0', 'manifest.dsse.json'), 'utf8')) as { payload: string };
  const manifest = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Record<string, unknown>;
  envelope.payload = encodeBase64(new TextEncoder().encode(JSON.stringify({ ...manifest, id: 'tampered', classLabels: manifest.classLabels })));
  return { key: envelopeKey('tampered', '1.0.0'), body: JSON.stringify(envelope) };
}

export interface ChildOrigin extends OriginProcess {
  /** Default SIGKILL: the tests kill origins; SIGTERM drains. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a real origin process on `repo` (on `port`, or a free one) and waits for it to listen. */
export async function spawnOrigin(repo: TestRepository, port = 0): Promise<ChildOrigin> {
  const origin = await spawnOriginProcess({
    port,
    repository: repo.repository,
    env: { TANDEM_TRUSTED_KEYS: repo.trustedKeys, TANDEM_ORIGIN_TOKEN: INFER_TOKEN, TANDEM_ADMIN_TOKEN: 'test-admin', TANDEM_INTRA_OP_THREADS: '1' },
  });
  return { ...origin, kill: (signal = 'SIGKILL') => origin.stop(signal) };
}

export function inferBody(seed = 1): string {
  const data: number[] = [];
  let s = seed;
  for (let i = 0; i < 256; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    data.push((s / 2 ** 31) * 2 - 1);
  }
  return JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data }] });
}

/** Runs `count` calls of `task` with at most `concurrency` at once. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}
