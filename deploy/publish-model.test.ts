import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../protocol/keys.ts';
import { envelopeKey } from '../protocol/repository-layout.ts';
import { signedRepository, type TestRepository } from '../origin/test-support.ts';
import { artifactObjectKey, parseEnvelopeKey } from '../worker/storage/layout.ts';
import { WRANGLER_CONFIG } from './deploy-edge.ts';
import { planPublish, shellLine } from './publish-model.ts';

let repo: TestRepository;
const dirs: string[] = [];
const temp = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  repo = await signedRepository(['mlp-classifier']);
});

afterAll(async () => {
  await repo?.cleanup();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const options = () => ({ env: 'staging', model: 'mlp-classifier', version: '1.0.0', repository: repo.repository, trustedKeys: repo.trustedKeys });

describe('planPublish', () => {
  it('uploads each artifact under its hash, then the envelope, to the keys the edge reads', async () => {
    const plan = await planPublish(options());
    const { manifest } = plan.verified;
    expect(plan.bucket).toBe('tandem-models-staging');
    const keys = plan.commands.map((c) => c.key);
    expect(keys).toEqual([...manifest.variants.map((v) => artifactObjectKey(v.artifact.sha256)), envelopeKey('mlp-classifier', '1.0.0')]);
    expect(keys.at(-1)).toBe('mlp-classifier/1.0.0/manifest.dsse.json');
    // What the edge's catalog makes of the envelope key, and the artifact route's key for each hash.
    expect(parseEnvelopeKey(keys.at(-1)!)).toEqual({ id: 'mlp-classifier', version: '1.0.0' });
    for (const variant of manifest.variants) expect(keys).toContain(`artifacts/${variant.artifact.sha256}`);
    const dir = join(repo.repository, 'mlp-classifier', '1.0.0');
    expect(plan.commands.map((c) => c.args)).toEqual([
      ...manifest.variants.map((v) => [
        'r2',
        'object',
        'put',
        `tandem-models-staging/artifacts/${v.artifact.sha256}`,
        '--file',
        join(dir, v.artifact.path),
        '--content-type',
        'application/octet-stream',
        '--env',
        'staging',
        '--config',
        WRANGLER_CONFIG,
        '--remote',
      ]),
      [
        'r2',
        'object',
        'put',
        'tandem-models-staging/mlp-classifier/1.0.0/manifest.dsse.json',
        '--file',
        join(dir, 'manifest.dsse.json'),
        '--content-type',
        'application/json',
        '--env',
        'staging',
        '--config',
        WRANGLER_CONFIG,
        '--remote',
      ],
    ]);
    expect(shellLine(plan.commands.at(-1)!)).toMatch(
      /^npx wrangler r2 object put tandem-models-staging\/mlp-classifier\/1\.0\.0\/manifest\.dsse\.json --file \S+ --content-type application\/json --env staging --config wrangler\.toml --remote$/,
    );
  });

  it('targets the bucket of the environment', async () => {
    expect((await planPublish({ ...options(), env: 'production' })).bucket).toBe('tandem-models-production');
  });

  it('refuses what the edge would refuse', async () => {
    // staging's TRUSTED_KEYS in wrangler.toml is the placeholder "[]" until a release key is pasted in.
    await expect(planPublish({ ...options(), trustedKeys: '[]' })).rejects.toThrow(/trusts no key/);
    const stranger = await generateSigningKey();
    await expect(planPublish({ ...options(), trustedKeys: JSON.stringify([stranger.publicKey]) })).rejects.toMatchObject({
      code: 'manifest_signature_invalid',
    });
    await expect(planPublish({ ...options(), version: '9.9.9' })).rejects.toThrow();

    const copy = await temp('tandem-publish-tampered-');
    await cp(repo.repository, copy, { recursive: true });
    const file = join(copy, 'mlp-classifier', '1.0.0', 'int8.onnx');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    await writeFile(file, bytes);
    await expect(planPublish({ ...options(), repository: copy })).rejects.toMatchObject({ code: 'artifact_hash_mismatch' });
  });
});
