import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleManifest } from '../../protocol/test-support/manifest-arbitrary.ts';
import { verifyManifest } from '../../protocol/signed-manifest.ts';
import { readTrustedKeysFile } from '../../models/keys-store.ts';
import { COMMANDS } from './commands.mjs';
import { tandemCli } from './test-support.ts';

const ROOT = join(import.meta.dirname, '..', '..');

const tandem = tandemCli;

describe('tandem CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keygen writes a 0600 private key and adds the public key to the trusted set; a second keygen rotates in a new key', async () => {
    const trusted = join(dir, 'trusted.json');
    const first = await tandem('keygen', '--out', join(dir, 'old.json'), '--trusted', trusted);
    expect(first.code).toBe(0);
    const second = await tandem('keygen', '--out', join(dir, 'new.json'), '--trusted', trusted, '--algorithm', 'ECDSA-P256');
    expect(second.code).toBe(0);
    const set = await readTrustedKeysFile(trusted);
    expect(set.keys.size).toBe(2);
    const { statSync } = await import('node:fs');
    expect(statSync(join(dir, 'old.json')).mode & 0o777).toBe(0o600);
  });

  it('keygen refuses to overwrite a key without --force', async () => {
    const result = await tandem('keygen', '--out', join(dir, 'old.json'), '--trusted', join(dir, 'trusted.json'));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/key_invalid: .*exists/);
  });

  it('sign then verify: the envelope verifies against the trusted set and carries the manifest', async () => {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(sampleManifest()));
    const version = join(dir, 'repo', 'mlp-classifier', '1.0.0');
    await import('node:fs/promises').then((fs) => fs.mkdir(version, { recursive: true }));
    const envelopePath = join(version, 'manifest.dsse.json');
    const signed = await tandem('sign', join(dir, 'manifest.json'), '--key', join(dir, 'old.json'), '--out', envelopePath);
    expect(signed.code).toBe(0);
    const verified = await verifyManifest(JSON.parse(await readFile(envelopePath, 'utf8')), await readTrustedKeysFile(join(dir, 'trusted.json')));
    expect(verified.manifest).toEqual(sampleManifest());

    const ok = await tandem('verify', join(dir, 'repo'), '--trusted', join(dir, 'trusted.json'), '--no-artifacts');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^ok +mlp-classifier@1\.0\.0/m);
  });

  it('re-signing an envelope with --keep-signatures adds the new key beside the old', async () => {
    const envelopePath = join(dir, 'repo', 'mlp-classifier', '1.0.0', 'manifest.dsse.json');
    const result = await tandem('sign', envelopePath, '--key', join(dir, 'new.json'), '--keep-signatures', '--out', envelopePath);
    expect(result.code).toBe(0);
    const envelope = JSON.parse(await readFile(envelopePath, 'utf8'));
    expect(envelope.signatures).toHaveLength(2);
    const set = await readTrustedKeysFile(join(dir, 'trusted.json'));
    expect((await verifyManifest(envelope, { ...set, threshold: 2 })).keyids).toHaveLength(2);
  });

  it('verify fails with the error code when a manifest is tampered, and when artifacts are missing', async () => {
    const envelopePath = join(dir, 'repo', 'mlp-classifier', '1.0.0', 'manifest.dsse.json');
    const artifacts = await tandem('verify', envelopePath, '--trusted', join(dir, 'trusted.json'));
    expect(artifacts.code).toBe(1);
    expect(artifacts.out).toMatch(/FAIL .*artifact_missing: .*int8\.onnx: no such file/);

    const envelope = JSON.parse(await readFile(envelopePath, 'utf8'));
    envelope.payloadType = `${envelope.payloadType}x`;
    await writeFile(envelopePath, JSON.stringify(envelope));
    const tampered = await tandem('verify', envelopePath, '--trusted', join(dir, 'trusted.json'), '--no-artifacts');
    expect(tampered.code).toBe(1);
    expect(tampered.out).toMatch(/FAIL .*manifest_signature_invalid/);
  });

  it('sign rejects an invalid manifest with its code', async () => {
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...sampleManifest(), version: 'one' }));
    const result = await tandem('sign', join(dir, 'bad.json'), '--key', join(dir, 'old.json'));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/manifest_invalid: .*version/);
  });

  it('gives a user-facing code for a missing file, a bad flag and invalid JSON, and writes no dev key when it refuses', () => {
    const keyDir = join(dir, 'no-keys-here');
    const bin = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'stack', 'bin', 'tandem.mjs'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, TANDEM_KEY_DIR: keyDir },
      });
    const missing = bin('sign', join(dir, 'no-such-manifest.json'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^tandem: not_found: .*no-such-manifest\.json: no such file or directory$/m);
    writeFileSync(join(dir, 'not-json.json'), '{ "id": ');
    const invalid = bin('sign', join(dir, 'not-json.json'));
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/^tandem: bad_request: .*not-json\.json is not valid JSON$/m);
    const badFlag = bin('start', '--origin-port', 'eighty');
    expect(badFlag.status).not.toBe(0);
    expect(badFlag.stderr).toMatch(/--origin-port.*not a port: eighty/);
    const unknown = bin('keygen', '--algorithm', 'RSA');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/RSA/);
    for (const output of [missing, invalid, badFlag, unknown]) expect(output.stderr).not.toMatch(/internal/);
    expect(existsSync(keyDir)).toBe(false);
  });

  it('answers --help and --version without loading a subcommand, and --help for each subcommand', () => {
    const bin = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'stack', 'bin', 'tandem.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
    const help = bin('--help');
    expect(help.status).toBe(0);
    for (const { name } of COMMANDS) expect(help.stdout).toContain(name);
    const version = bin('--version');
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'stack', 'package.json'), 'utf8')).version);
    for (const { name } of COMMANDS) {
      const sub = bin(name, '--help');
      expect(sub.status, `${name} --help: ${sub.stderr}`).toBe(0);
      expect(sub.stdout, name).toMatch(/usage/i);
    }
  });
});
