import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPlatformProxy } from 'wrangler';
import { WRANGLER_CONFIG } from '../deploy/deploy-edge.ts';
import { generateSigningKey, type SigningKey } from '../protocol/keys.ts';
import { envelopeKey } from '../protocol/repository-layout.ts';
import { artifactObjectKey } from '../worker/storage/layout.ts';
import { verifyModelDirectory } from '../origin/verify-version.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { importModel } from '../models/import/import-model.ts';
import { publishVersion, type PublishRequest } from './publish-version.ts';
import * as graphs from '../models/import/test-graphs.ts';

let work: string;
let key: SigningKey;
let trustedKeys: string;
let staging: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tandem-publish-version-'));
  key = await generateSigningKey();
  trustedKeys = JSON.stringify([key.publicKey]);
  staging = join(work, 'staging');
  const model = join(work, 'tiny.onnx');
  await writeFile(model, graphs.tinyClassifier());
  const example = join(work, 'example.json');
  await writeFile(example, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
  await importModel({ model, id: 'tiny', version: '1.0.0', repository: staging, examples: [example] }, { signingKey: key });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const fresh = async (name: string) => {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  return dir;
};

const request = (extra: Partial<PublishRequest>): PublishRequest => ({
  id: 'tiny',
  version: '1.0.0',
  from: staging,
  repository: join(work, 'origin'),
  trustedKeys,
  edge: { kind: 'none' },
  ...extra,
});

describe('publishVersion', () => {
  it("copies the version into the origin's repository and puts it into the local R2 the edge reads", async () => {
    const repository = await fresh('origin-a');
    const persistTo = await fresh('r2-a');
    const lines: string[] = [];
    const result = await publishVersion(request({ repository, edge: { kind: 'local', persistTo } }), { progress: (l) => lines.push(l) });
    expect(result.origin).toBe('copied');
    expect(result.edge).toMatchObject({ bucket: 'tandem-models', uploaded: true });
    // One artifact (both variants share fp32.onnx), then the envelope; the top-level config takes no --env.
    expect(result.edge!.commands).toHaveLength(2);
    expect(result.edge!.commands.join('\n')).not.toContain('--env');
    expect(lines.filter((l) => l.startsWith('uploading'))).toHaveLength(2);

    const copy = await verifyModelDirectory(join(repository, 'tiny', '1.0.0'), await loadTrustedKeys(trustedKeys));
    expect((await readdir(copy.dir)).sort()).toEqual(['example-1.json', 'fp32.onnx', 'manifest.dsse.json']);
    expect(await readFile(join(copy.dir, 'manifest.dsse.json'))).toEqual(await readFile(join(staging, 'tiny', '1.0.0', 'manifest.dsse.json')));

    const proxy = await getPlatformProxy<{ MODELS: { get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null> } }>({
      configPath: WRANGLER_CONFIG,
      persist: { path: join(persistTo, 'v3') },
      envFiles: [],
      remoteBindings: false,
    });
    try {
      const envelope = await proxy.env.MODELS.get(envelopeKey('tiny', '1.0.0'));
      expect(Buffer.from(await envelope!.arrayBuffer())).toEqual(await readFile(join(copy.dir, 'manifest.dsse.json')));
      const sha256 = copy.manifest.variants[0]!.artifact.sha256;
      const artifact = await proxy.env.MODELS.get(artifactObjectKey(sha256));
      expect(
        createHash('sha256')
          .update(Buffer.from(await artifact!.arrayBuffer()))
          .digest('hex'),
      ).toBe(sha256);
    } finally {
      await proxy.dispose();
    }
  });

  it('leaves an identical copy alone, refuses a different one, and replaces it with force', async () => {
    const repository = await fresh('origin-b');
    expect((await publishVersion(request({ repository }))).origin).toBe('copied');
    expect((await publishVersion(request({ repository }))).origin).toBe('identical copy there');
    // The same version imported again (a new createdAt): a different signed version under the same name.
    const other = await fresh('staging-b');
    const model = join(work, 'tiny.onnx');
    await importModel({ model, id: 'tiny', version: '1.0.0', repository: other }, { signingKey: key, now: () => new Date('2030-01-01T00:00:00Z') });
    await expect(publishVersion(request({ repository, from: other }))).rejects.toMatchObject({ code: 'version_exists' });
    expect((await publishVersion(request({ repository, from: other, force: true }))).origin).toBe('copied');
    expect(await readdir(join(repository, 'tiny', '1.0.0'))).not.toContain('example-1.json');
  });

  it('publishes in place when the version is already in the repository, and plans a remote upload on a dry run', async () => {
    const runs: string[][] = [];
    const result = await publishVersion(
      request({ repository: staging, edge: { kind: 'remote', env: 'staging' }, edgeTrustedKeys: trustedKeys, dryRun: true }),
      {
        runWrangler: async (args) => (runs.push([...args]), { code: 0, output: '' }),
      },
    );
    expect(result.origin).toBe('in place');
    expect(result.edge).toMatchObject({ bucket: 'tandem-models-staging', uploaded: false });
    expect(result.edge!.commands.at(-1)).toMatch(
      /^npx wrangler r2 object put tandem-models-staging\/tiny\/1\.0\.0\/manifest\.dsse\.json .*--env staging .*--remote$/,
    );
    expect(runs).toEqual([]);
    // Without --trusted, the environment's own TRUSTED_KEYS ("[]" in wrangler.toml) decides, and refuses.
    await expect(publishVersion(request({ repository: staging, edge: { kind: 'remote', env: 'staging' }, dryRun: true }))).rejects.toThrow(/trusts no key/);
  });

  it('reports a failed upload by its object, after which nothing else goes up', async () => {
    const runs: string[][] = [];
    const failing = async (args: readonly string[]) => (runs.push([...args]), { code: 1, output: 'R2 said no' });
    await expect(
      publishVersion(request({ repository: staging, edge: { kind: 'local', persistTo: await fresh('r2-c') } }), { runWrangler: failing }),
    ).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/^upload of artifacts\/[0-9a-f]{64} failed \(wrangler exit 1\).*R2 said no/),
    });
    expect(runs).toHaveLength(1);
  });

  it('refuses what must not be published: unknown versions, untrusted signatures, tampered files; nothing copied', async () => {
    const repository = await fresh('origin-d');
    await expect(publishVersion(request({ repository, version: '9.9.9' }))).rejects.toMatchObject({ code: 'model_not_found' });
    await expect(publishVersion(request({ repository, version: 'latest' }))).rejects.toMatchObject({ code: 'bad_request' });
    const stranger = JSON.stringify([(await generateSigningKey()).publicKey]);
    await expect(publishVersion(request({ repository, trustedKeys: stranger }))).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    const tampered = await fresh('tampered');
    await importModel(
      { model: join(work, 'tiny.onnx'), id: 'tiny', version: '1.0.0', repository: tampered, examples: [join(work, 'example.json')] },
      { signingKey: key },
    );
    await writeFile(join(tampered, 'tiny', '1.0.0', 'example-1.json'), '{"inputs":[]}');
    await expect(publishVersion(request({ repository, from: tampered }))).rejects.toMatchObject({
      code: 'artifact_hash_mismatch',
      message: expect.stringContaining('example-1.json'),
    });
    expect(await readdir(repository)).toEqual([]);
  });
});
