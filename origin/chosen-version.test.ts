/**
 * A rollback survives a restart (issue 18, item 5): the version an operator makes current with the admin
 * load route is recorded in the repository and is current again after the origin restarts; without the
 * record (or when that version is refused) the newest valid version is current, as before.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHOSEN_VERSION_FILE, readChosenVersion, writeChosenVersion } from './chosen-version.ts';
import { ADMIN_TOKEN, copyVersion, infer, randomFloats, signedRepository, startTestOrigin, type TestRepository } from './test-support.ts';

const MODEL = 'mlp-classifier';

describe('the chosen-version record', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-chosen-'));
    await mkdir(join(dir, MODEL));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes, reads back and removes a version, and refuses anything else', async () => {
    expect(await readChosenVersion(dir, MODEL)).toBeUndefined();
    await writeChosenVersion(dir, MODEL, '1.2.0-rc.1');
    expect(await readFile(join(dir, MODEL, CHOSEN_VERSION_FILE), 'utf8')).toBe('1.2.0-rc.1\n');
    expect(await readChosenVersion(dir, MODEL)).toBe('1.2.0-rc.1');
    await writeChosenVersion(dir, MODEL, undefined);
    expect(await readChosenVersion(dir, MODEL)).toBeUndefined();
    await expect(writeChosenVersion(dir, MODEL, '../../etc')).rejects.toThrow(/semantic version/);
    await expect(writeChosenVersion(dir, '../x', '1.0.0')).rejects.toThrow(/model id/);
    await writeFile(join(dir, MODEL, CHOSEN_VERSION_FILE), '../../../etc/passwd\n');
    await expect(readChosenVersion(dir, MODEL)).rejects.toThrow(/semantic version/);
  });
});

describe('a rollback across a restart', () => {
  let repo: TestRepository;
  beforeAll(async () => {
    repo = await signedRepository([MODEL]);
    await copyVersion(repo, MODEL, '1.0.0', '1.1.0');
  });
  afterAll(() => repo?.cleanup());

  const load = (url: string, version: string) =>
    fetch(`${url}/v2/repository/models/${MODEL}/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version }),
    });
  const servedVersion = async (url: string) => {
    const result = await infer(url, MODEL, { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: randomFloats(256, 3) }] });
    if (!result.ok) throw result.error;
    return result.response.modelVersion;
  };

  it('keeps the version the operator chose current after a restart, even an older one', async () => {
    const first = await startTestOrigin(repo);
    try {
      expect(first.origin.registry.currentVersion(MODEL)).toBe('1.1.0');
      const res = await load(first.origin.url, '1.0.0');
      expect(await res.json()).toEqual({ name: MODEL, version: '1.0.0', previous: '1.1.0' });
      expect(await servedVersion(first.origin.url)).toBe('1.0.0');
    } finally {
      await first.origin.shutdown();
    }
    const second = await startTestOrigin(repo);
    try {
      expect(second.origin.registry.currentVersion(MODEL)).toBe('1.0.0');
      expect(await servedVersion(second.origin.url)).toBe('1.0.0');
      // Both versions are served by name; the choice only says which answers without one.
      expect(
        second.origin.registry
          .list()
          .map((m) => m.version)
          .sort(),
      ).toEqual(['1.0.0', '1.1.0']);
      // Unloading the chosen version moves the choice to the version that serves now.
      await second.origin.registry.unload(MODEL, '1.0.0');
      expect(await readChosenVersion(repo.repository, MODEL)).toBe('1.1.0');
    } finally {
      await second.origin.shutdown();
    }
  });

  it('serves the newest valid version when the chosen one is refused at start', async () => {
    await writeChosenVersion(repo.repository, MODEL, '1.0.0');
    const manifest = join(repo.repository, MODEL, '1.0.0', 'manifest.dsse.json');
    const original = await readFile(manifest, 'utf8');
    await writeFile(manifest, original.replace(/"payload":\s*"/, '"payload": "AA'));
    const { origin, lines } = await startTestOrigin(repo);
    try {
      expect(origin.registry.currentVersion(MODEL)).toBe('1.1.0');
      expect(lines).toContainEqual(expect.objectContaining({ event: 'model_refused', model: MODEL, version: '1.0.0' }));
    } finally {
      await origin.shutdown();
      await writeFile(manifest, original);
    }
  });

  it('says when the choice cannot be recorded, and still swaps', async () => {
    await rm(join(repo.repository, MODEL, CHOSEN_VERSION_FILE), { force: true });
    // A directory where the record goes: unreadable and unwritable, whoever runs the test.
    await mkdir(join(repo.repository, MODEL, CHOSEN_VERSION_FILE, 'blocker'), { recursive: true });
    const { origin, lines } = await startTestOrigin(repo);
    try {
      expect(origin.registry.currentVersion(MODEL)).toBe('1.1.0');
      expect(lines).toContainEqual(expect.objectContaining({ event: 'chosen_version_unreadable', model: MODEL }));
      const res = await load(origin.url, '1.0.0');
      expect(await res.json()).toMatchObject({ version: '1.0.0', previous: '1.1.0', saved: false });
      expect(lines).toContainEqual(expect.objectContaining({ event: 'chosen_version_unsaved', model: MODEL, version: '1.0.0' }));
      expect(origin.registry.currentVersion(MODEL)).toBe('1.0.0');
    } finally {
      await origin.shutdown();
      await rm(join(repo.repository, MODEL, CHOSEN_VERSION_FILE), { recursive: true, force: true });
    }
  });
});
