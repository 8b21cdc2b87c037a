/** The origin's `listening` line says which signing keys it trusts and where they came from. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { signedRepository, startTestOrigin, type TestRepository } from './test-support.ts';

let repo: TestRepository;
let keyids: string[];

beforeAll(async () => {
  repo = await signedRepository(['mlp-classifier']);
  keyids = [...(await loadTrustedKeys(repo.trustedKeys)).keys.keys()];
});
afterAll(() => repo?.cleanup());

describe('startup log', () => {
  it('names the trusted keyids from TANDEM_TRUSTED_KEYS', async () => {
    const { origin, lines } = await startTestOrigin(repo);
    await origin.shutdown();
    const listening = lines.find((l) => l.event === 'listening');
    expect(listening?.trusted_keys).toEqual({ from: 'TANDEM_TRUSTED_KEYS', keyids, threshold: 1 });
    expect(keyids).toHaveLength(1);
  });

  it('names the key file when the keys come from TANDEM_TRUSTED_KEYS_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-keys-'));
    try {
      const file = join(dir, 'trusted-keys.json');
      await writeFile(file, repo.trustedKeys);
      const { origin, lines } = await startTestOrigin(repo, { trustedKeys: undefined, trustedKeysFile: file });
      await origin.shutdown();
      expect(lines.find((l) => l.event === 'listening')?.trusted_keys).toEqual({ from: 'TANDEM_TRUSTED_KEYS_FILE', file, keyids, threshold: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
