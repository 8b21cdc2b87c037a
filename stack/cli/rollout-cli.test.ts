/**
 * `tandem rollout` end to end on a real repository and a real origin: set refuses weights that do not
 * sum, a version the repository lacks and a version the origin lacks; set, status, promote and rollback
 * write records of growing versions that verify with the release keys; a tampered record is refused.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyVersion, startTestOrigin, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import type { RunningOrigin } from '../../origin/server.ts';
import { writeSigningKey } from '../../models/keys-store.ts';
import { loadTrustedKeys } from '../../protocol/keys.ts';
import { verifyRollout } from '../../protocol/rollout/rollout-record.ts';
import { tandemCli as tandem } from './test-support.ts';
import { rolloutPath } from './rollout-store.ts';
import { rolloutKeys } from '../seed-r2.ts';

const MODEL = 'mlp-classifier';
let dir: string;
let repo: TestRepository;
let cliRepo: TestRepository;
let origin: RunningOrigin;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-rollout-cli-'));
  repo = await signedRepository([MODEL]);
  // The origin holds 1.0.0 only; the repository the CLI reads holds 1.0.0 and 1.1.0, both signed.
  origin = (await startTestOrigin(repo)).origin;
  cliRepo = { ...repo, repository: join(dir, 'repository') };
  await cp(repo.repository, cliRepo.repository, { recursive: true });
  await copyVersion(cliRepo, MODEL, '1.0.0', '1.1.0');
  await writeSigningKey(join(dir, 'release.json'), repo.key);
  await writeFile(join(dir, 'trusted.json'), JSON.stringify([repo.key.publicKey]));
}, 120_000);

afterAll(async () => {
  await origin?.shutdown();
  await rm(dir, { recursive: true, force: true });
  await repo?.cleanup();
});

const opts = () => ['--repository', cliRepo.repository, '--trusted', join(dir, 'trusted.json')];
const write = () => [...opts(), '--key', join(dir, 'release.json')];

async function recordOnDisk() {
  const envelope = JSON.parse(await readFile(rolloutPath(cliRepo.repository, MODEL), 'utf8'));
  return (await verifyRollout(envelope, await loadTrustedKeys([repo.key.publicKey]), Date.now(), MODEL)).record;
}

describe('tandem rollout', () => {
  it('status says there is no record yet', async () => {
    const run = await tandem('rollout', 'status', MODEL, ...opts());
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/not_found: .*no rollout record/);
  });

  it('set refuses weights that do not sum to 100 or 1', async () => {
    const run = await tandem('rollout', 'set', MODEL, '1.0.0=90', '1.1.0=5', ...write(), '--origins', origin.url);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/manifest_invalid: .*weights sum to 95, not 100 or 1/);
  });

  it('set refuses a version the repository does not hold', async () => {
    const run = await tandem('rollout', 'set', MODEL, '1.0.0=90', '9.0.0=10', ...write(), '--origins', origin.url);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/model_not_found: no model mlp-classifier@9.0.0/);
  });

  it('set refuses a version an origin of the pool does not hold, and says which', async () => {
    const run = await tandem('rollout', 'set', MODEL, '1.0.0=90', '1.1.0=10', ...write(), '--origins', origin.url);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(new RegExp(`model_not_ready: .*mlp-classifier@1.1.0 on ${origin.url} \\(404 model_not_found\\)`));
    const none = await tandem('rollout', 'set', MODEL, '1.0.0=100', ...write());
    if (!process.env.TANDEM_ORIGINS) expect(none.err).toMatch(/bad_request: no origins to check/);
  });

  it('set writes record 1 when every origin holds every weighted version; status verifies and shows it', async () => {
    const set = await tandem('rollout', 'set', MODEL, '1.0.0=1', ...write(), '--origins', `${origin.url}/`, '--max-error-rate', '0.1');
    expect(set.code, set.err).toBe(0);
    expect(set.out).toMatch(/rollout record 1 of mlp-classifier/);
    expect(await recordOnDisk()).toMatchObject({ version: 1, stable: '1.0.0', weights: { '1.0.0': 1 }, rollback: { maxErrorRate: 0.1, minSamples: 100 } });
    const status = await tandem('rollout', 'status', MODEL, ...opts());
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(/rollout record 1 of mlp-classifier \(verified with .*trusted.json\)/);
    expect(status.out).toMatch(/1\.0\.0 100% \(stable\)/);
    // The stack seeds it into the edge's R2 with the trust metadata.
    expect(await rolloutKeys(cliRepo.repository)).toEqual(['_rollout/mlp-classifier.dsse.json']);
  });

  it('set, rollback and promote write growing versions once the origins hold the canary', async () => {
    const both = (await startTestOrigin(cliRepo)).origin;
    try {
      const pool = `${origin.url},${both.url}`;
      // One origin of the two still lacks 1.1.0.
      expect((await tandem('rollout', 'set', MODEL, '1.0.0=90', '1.1.0=10', ...write(), '--origins', pool)).err).toMatch(/model_not_ready/);
      const set = await tandem('rollout', 'set', MODEL, '1.0.0=90', '1.1.0=10', ...write(), '--origins', JSON.stringify([both.url]));
      expect(set.code, set.err).toBe(0);
      expect(await recordOnDisk()).toMatchObject({ version: 2, stable: '1.0.0', weights: { '1.0.0': 90, '1.1.0': 10 } });
      const back = await tandem('rollout', 'rollback', MODEL, ...write());
      expect(back.code, back.err).toBe(0);
      expect(await recordOnDisk()).toMatchObject({ version: 3, stable: '1.0.0', weights: { '1.0.0': 100 } });
      expect((await tandem('rollout', 'promote', MODEL, ...write(), '--origins', both.url)).err).toMatch(/bad_request: .*no canary/);
      expect((await tandem('rollout', 'set', MODEL, '1.0.0=50', '1.1.0=50', ...write(), '--origins', both.url)).code).toBe(0);
      // Promoting checks the pool again: the first origin lacks 1.1.0.
      expect((await tandem('rollout', 'promote', MODEL, ...write(), '--origins', pool)).err).toMatch(/model_not_ready/);
      const promoted = await tandem('rollout', 'promote', MODEL, ...write(), '--origins', both.url);
      expect(promoted.code, promoted.err).toBe(0);
      expect(await recordOnDisk()).toMatchObject({ version: 5, stable: '1.1.0', weights: { '1.1.0': 100 } });
    } finally {
      await both.shutdown();
    }
  }, 120_000);

  it('refuses a record on disk that was tampered with or signed by another key', async () => {
    const path = rolloutPath(cliRepo.repository, MODEL);
    const good = await readFile(path, 'utf8');
    const envelope = JSON.parse(good);
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    payload.weights = { '1.0.0': 100 };
    payload.stable = '1.0.0';
    await writeFile(path, JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(payload)).toString('base64') }));
    const status = await tandem('rollout', 'status', MODEL, ...opts());
    expect(status.code).toBe(1);
    expect(status.err).toMatch(/manifest_signature_invalid/);
    // Nor does a command build on it.
    expect((await tandem('rollout', 'rollback', MODEL, ...write())).err).toMatch(/manifest_signature_invalid/);
    await writeFile(path, good);
    expect((await tandem('rollout', 'status', MODEL, ...opts(), '--json')).out).toMatch(/"version": 5/);
  });
});
