import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTextIfPresent } from './read-if-present.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-if-present-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readTextIfPresent', () => {
  it('reads a file, answers undefined for a missing one, and throws for anything else', async () => {
    await writeFile(join(dir, 'current'), '1.2.0\n');
    expect(await readTextIfPresent(join(dir, 'current'))).toBe('1.2.0\n');
    expect(await readTextIfPresent(join(dir, 'absent'))).toBeUndefined();
    // A directory where a file should be is a broken repository, not an absent file.
    await expect(readTextIfPresent(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
