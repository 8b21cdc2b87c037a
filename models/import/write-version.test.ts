import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listModelVersions } from '../../origin/repository.ts';
import { writeVersion } from './write-version.ts';

let repository: string;
beforeAll(async () => {
  repository = await mkdtemp(join(tmpdir(), 'tandem-write-version-'));
});
afterAll(async () => {
  await rm(repository, { recursive: true, force: true });
});

const files = (text: string) => new Map([['fp32.onnx', new TextEncoder().encode(text)]]);

describe('writeVersion', () => {
  it('writes every file and the envelope, leaving no temporary folder', async () => {
    const dir = await writeVersion({ repository, id: 'm', version: '1.0.0', files: files('one'), envelope: '{"e":1}\n' });
    expect(dir).toBe(join(repository, 'm', '1.0.0'));
    expect((await readdir(dir)).sort()).toEqual(['fp32.onnx', 'manifest.dsse.json']);
    expect(await readdir(join(repository, 'm'))).toEqual(['1.0.0']);
    expect((await listModelVersions(repository)).map((v) => v.version)).toEqual(['1.0.0']);
  });

  it('refuses an existing version, and replaces it with force', async () => {
    await expect(writeVersion({ repository, id: 'm', version: '1.0.0', files: files('two'), envelope: '{}' })).rejects.toMatchObject({
      code: 'version_exists',
      message: expect.stringContaining('--force'),
    });
    expect(await readFile(join(repository, 'm', '1.0.0', 'fp32.onnx'), 'utf8')).toBe('one');
    await writeVersion({ repository, id: 'm', version: '1.0.0', files: files('two'), envelope: '{}', force: true });
    expect(await readFile(join(repository, 'm', '1.0.0', 'fp32.onnx'), 'utf8')).toBe('two');
    expect(await readdir(join(repository, 'm'))).toEqual(['1.0.0']);
  });

  it('leaves nothing behind when a write fails midway', async () => {
    const bad = new Map([
      ['fp32.onnx', new Uint8Array(1)],
      ['sub/dir.json', new Uint8Array(1)],
    ]);
    await expect(writeVersion({ repository, id: 'm', version: '2.0.0', files: bad, envelope: '{}' })).rejects.toThrow();
    expect(await readdir(join(repository, 'm'))).toEqual(['1.0.0']);
  });

  it('refuses ids and versions that would climb out of the repository', async () => {
    await expect(writeVersion({ repository, id: '..', version: '1.0.0', files: files('x'), envelope: '{}' })).rejects.toMatchObject({ code: 'bad_request' });
  });
});
