import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { artifactFile, listModelVersions, readArtifact, readEnvelope } from './repository.ts';
import { sharedModelRepository, type TestModelRepository } from '../models/test-support.ts';

let shared: TestModelRepository;
let scratch: string;
beforeAll(async () => {
  shared = await sharedModelRepository();
  scratch = await mkdtemp(join(tmpdir(), 'tandem-repository-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('a built repository', () => {
  it('lists every model version, and each envelope verifies and names artifacts that read back whole', async () => {
    const entries = await listModelVersions(shared.repository);
    expect(entries.map((e) => `${e.id}@${e.version}`)).toEqual(['large-classifier@1.0.0', 'mlp-classifier@1.0.0', 'shapes-cnn@1.0.0']);
    for (const { id, version } of entries) {
      const { manifest } = await verifyManifest(await readEnvelope(shared.repository, id, version), shared.trusted);
      for (const variant of manifest.variants.filter((v) => v.artifact.bytes < 10_000_000)) {
        expect((await readArtifact(shared.repository, id, version, variant.artifact.path)).length).toBe(variant.artifact.bytes);
      }
    }
  });

  it('answers missing models and artifacts with their error codes, and refuses paths that climb out', async () => {
    await expect(readEnvelope(shared.repository, 'no-such-model', '1.0.0')).rejects.toMatchObject({ code: 'model_not_found' });
    await expect(readArtifact(shared.repository, 'mlp-classifier', '1.0.0', 'fp16.onnx')).rejects.toMatchObject({ code: 'artifact_missing' });
    expect(() => artifactFile(shared.repository, 'mlp-classifier', '1.0.0', '../../x')).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => artifactFile(shared.repository, '..', '1.0.0', 'fp32.onnx')).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});

describe('listModelVersions', () => {
  it('skips folders without an envelope, sorts versions numerically, and lists a missing root as empty', async () => {
    for (const version of ['1.10.0', '1.9.0', '1.10.0-rc.1', '2.0.0']) {
      await mkdir(join(scratch, 'm', version), { recursive: true });
      await writeFile(join(scratch, 'm', version, 'manifest.dsse.json'), '{}');
    }
    await mkdir(join(scratch, 'm', '3.0.0'), { recursive: true });
    expect((await listModelVersions(scratch)).map((e) => e.version)).toEqual(['1.9.0', '1.10.0-rc.1', '1.10.0', '2.0.0']);
    expect(await listModelVersions(join(scratch, 'nothing-here'))).toEqual([]);
  });

  it('reports a malformed envelope file as manifest_invalid', async () => {
    await mkdir(join(scratch, 'broken', '1.0.0'), { recursive: true });
    await writeFile(join(scratch, 'broken', '1.0.0', 'manifest.dsse.json'), '{not json');
    await expect(readEnvelope(scratch, 'broken', '1.0.0')).rejects.toMatchObject({ code: 'manifest_invalid' });
  });
});
