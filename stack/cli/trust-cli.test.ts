/**
 * The update framework's commands end to end on a real repository: root init, release, revoke, refresh,
 * a release key rotated through root version 2, and each refusal that keeps the chain whole.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp } from 'node:fs/promises';
import { signedRepository, type TestRepository } from '../../origin/test-support.ts';
import { readSigningKey } from '../../models/keys-store.ts';
import { decodeBase64 } from '../../protocol/base64.ts';
import { parseManifest, type Manifest } from '../../protocol/manifest.ts';
import { readTimestampEnvelope, readTrustedRoot } from '../../models/trust/metadata-store.ts';
import { verifyTimestamp } from '../../protocol/trust/timestamp.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { tandemCli } from './test-support.ts';

const tandem = tandemCli;

let dir: string;
let repo: TestRepository;
const key = (name: string) => join(dir, `${name}.json`);
const envelopeOf = (version: string) => join(repo.repository, 'mlp-classifier', version, 'manifest.dsse.json');

/** The manifest stored for a version (read, not verified: the test re-signs it as it needs). */
async function storedManifest(version: string): Promise<Manifest> {
  const envelope = JSON.parse(await readFile(envelopeOf(version), 'utf8')) as { payload: string };
  return parseManifest(JSON.parse(new TextDecoder().decode(decodeBase64(envelope.payload, 'manifest_signature_invalid'))));
}

/** Version 1.0.0's files as version `to`, its manifest signed by `keyName`'s key (or `changes` applied). */
async function copyAs(to: string, keyName: string, changes: Partial<Manifest> = {}): Promise<void> {
  if (to !== '1.0.0') await cp(join(repo.repository, 'mlp-classifier', '1.0.0'), join(repo.repository, 'mlp-classifier', to), { recursive: true });
  const signer = keyName === 'repo' ? repo.key : await readSigningKey(key(keyName));
  await writeFile(envelopeOf(to), JSON.stringify(await signManifest({ ...(await storedManifest('1.0.0')), version: to, ...changes }, [signer])));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-trust-cli-'));
  repo = await signedRepository(['mlp-classifier']);
  for (const name of ['root', 'release', 'release2', 'timestamp']) {
    expect((await tandem('keygen', '--out', key(name), '--trusted', join(dir, 'trusted.json'))).code).toBe(0);
  }
  // The version as the release key signs it, with an expiry.
  const signed = await tandem('sign', envelopeOf('1.0.0'), '--key', key('release'), '--expires', '30d', '--out', envelopeOf('1.0.0'));
  expect(signed.code, signed.err).toBe(0);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await repo.cleanup();
});

describe('tandem root, release, revoke, timestamp', () => {
  const ts = () => ['--key', key('timestamp'), '--repository', repo.repository];

  it('init writes root version 1, and refuses a second init', async () => {
    const args = [
      'root',
      'init',
      '--root-key',
      key('root'),
      '--release-key',
      key('release'),
      '--timestamp-key',
      key('timestamp'),
      '--repository',
      repo.repository,
    ];
    const first = await tandem(...args);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/root version 1 written/);
    const again = await tandem(...args);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/bad_request: .*already has a root/);
  });

  it("release adds a verified version as current; the record verifies with the root's timestamp role", async () => {
    const released = await tandem('release', '--model', 'mlp-classifier', '--version', '1.0.0', '--current', ...ts());
    expect(released.code, released.err).toBe(0);
    const root = await readTrustedRoot(repo.repository);
    const { record } = await verifyTimestamp(await readTimestampEnvelope(repo.repository), root, Date.now());
    expect(record.version).toBe(1);
    expect(record.models['mlp-classifier']).toMatchObject({ current: '1.0.0', revoked: [] });
    expect((await tandem('timestamp', '--show', '--repository', repo.repository)).out).toMatch(/mlp-classifier: current 1\.0\.0; live 1\.0\.0/);
  });

  it('refuses to release a version the release role did not sign', async () => {
    await copyAs('1.0.1', 'repo'); // signed by the repository's test key only
    const refused = await tandem('release', '--model', 'mlp-classifier', '--version', '1.0.1', ...ts());
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/manifest_signature_invalid/);
  });

  it('revokes only with a live version to move to, and never releases a revoked version again', async () => {
    await copyAs('1.1.0', 'release');
    expect((await tandem('release', '--model', 'mlp-classifier', '--version', '1.1.0', '--current', ...ts())).code).toBe(0);
    const alone = await tandem('revoke', '--model', 'mlp-classifier', '--version', '1.1.0', ...ts());
    expect(alone.err).toMatch(/bad_request: .*is current: name the version clients move to/);
    const revoked = await tandem('revoke', '--model', 'mlp-classifier', '--version', '1.1.0', '--current', '1.0.0', ...ts());
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toMatch(/current 1\.0\.0; live 1\.0\.0; revoked 1\.1\.0/);
    const again = await tandem('release', '--model', 'mlp-classifier', '--version', '1.1.0', ...ts());
    expect(again.err).toMatch(/version_revoked/);
  });

  it('refreshes the record with a higher version and a new expiry, signed only by the timestamp key', async () => {
    const before = (await verifyTimestamp(await readTimestampEnvelope(repo.repository), await readTrustedRoot(repo.repository), 0)).record;
    expect((await tandem('timestamp', '--expires', '12h', ...ts())).code).toBe(0);
    const after = (await verifyTimestamp(await readTimestampEnvelope(repo.repository), await readTrustedRoot(repo.repository), 0)).record;
    expect(after.version).toBe(before.version + 1);
    expect(after.models).toEqual(before.models);
    const wrongKey = await tandem('timestamp', '--key', key('release'), '--repository', repo.repository);
    expect(wrongKey.err).toMatch(/manifest_signature_invalid/);
  });

  it('rotates the release key through root version 2; the retired key can no longer release', async () => {
    const rotate = await tandem('root', 'rotate', '--release-key', key('release2'), '--sign-with', key('root'), '--repository', repo.repository);
    expect(rotate.code, rotate.err).toBe(0);
    expect((await readTrustedRoot(repo.repository)).document.version).toBe(2);
    await copyAs('1.2.0', 'release');
    expect((await tandem('release', '--model', 'mlp-classifier', '--version', '1.2.0', ...ts())).err).toMatch(/manifest_signature_invalid/);
    await copyAs('1.2.0', 'release2');
    expect((await tandem('release', '--model', 'mlp-classifier', '--version', '1.2.0', ...ts())).code).toBe(0);
  });

  it('refuses a rotation the current root keys did not sign', async () => {
    const refused = await tandem('root', 'rotate', '--timestamp-key', key('release'), '--sign-with', key('release2'), '--repository', repo.repository);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/manifest_signature_invalid/);
    expect((await readTrustedRoot(repo.repository)).document.version).toBe(2);
  });

  it('tandem verify refuses a manifest past its expiry', async () => {
    await copyAs('1.0.0', 'repo', { expires: new Date(Date.now() - 1000).toISOString() });
    await writeFile(join(dir, 'repo-trusted.json'), repo.trustedKeys);
    const expired = await tandem('verify', join(repo.repository, 'mlp-classifier', '1.0.0'), '--trusted', join(dir, 'repo-trusted.json'));
    expect(expired.code).toBe(1);
    expect(expired.out).toMatch(/FAIL .*metadata_expired: manifest mlp-classifier@1\.0\.0 expired at/);
    expect(JSON.parse(await readFile(envelopeOf('1.0.0'), 'utf8'))).toHaveProperty('payload');
  });
});
