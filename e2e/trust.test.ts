/**
 * The browser SDK verifying updates as TUF does, in Debian's Chromium against the real stack as
 * `tandem start` runs it with a root of trust: a repository given the dev root and record by
 * stack/dev-trust.ts, the origin and the edge pinning its root keys, and the demo page getting them as
 * `rootKeys` from /demo-config.json. One device (one browser profile) through a release's life, in order:
 * it sees 1.1.0; a validly signed older manifest served as current is refused and 1.1.0 kept; `tandem
 * revoke` withdraws 1.1.0 and the device's next contact evicts it from both caches; `tandem root rotate`
 * moves the release key to a new root version and the same page, unchanged, keeps loading models.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_KEY_FILE, TRUSTED_KEYS_FILE, writeSigningKey } from '../models/keys-store.ts';
import { copyVersion, signedRepository, type TestRepository } from '../origin/test-support.ts';
import { envelopeKey, TIMESTAMP_KEY } from '../protocol/repository-layout.ts';
import { DEV_ROOT_KEY_FILE, DEV_TIMESTAMP_KEY_FILE, ensureDevTrust } from '../stack/dev-trust.ts';
import { startStack, type RunningStack } from '../stack/stack.ts';
import { DemoPage, launchChromium, WASM_ONLY } from './support/browser.ts';

const ROOT = join(import.meta.dirname, '..');
const MODEL = 'mlp-classifier';
const MANIFEST_ROUTE = `**/v1/models/${MODEL}/manifest`;
const TIMESTAMP_ROUTE = '**/v1/trust/timestamp.json';
const ARTIFACT_PATH = '/v1/artifacts/';
const run = promisify(execFile);

let repo: TestRepository;
let keyDir: string;
let stack: RunningStack;
let browser: Browser;
/** The device: one browser profile for the whole file, as one user's browser over a release's life. */
let device: BrowserContext;
let page: DemoPage;

/** `tandem …` as an operator types it. */
async function tandem(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'stack', 'bin', 'tandem.mjs'), ...args], { cwd: ROOT });
  return stdout;
}
const onRepository = () => ['--repository', repo.repository];

const repoFile = (key: string) => readFile(join(repo.repository, ...key.split('/')), 'utf8');
const keyFile = (name: string) => join(keyDir, name);

/** Every value of one IndexedDB object store in the page's origin ([] when it does not exist). */
function indexedDbEntries(p: Page, db: string, store: string): Promise<[string, unknown][]> {
  return p.evaluate(
    async ([dbName, storeName]) => {
      if (!(await indexedDB.databases()).some((d) => d.name === dbName)) return [];
      return new Promise<[string, unknown][]>((resolve, reject) => {
        const open = indexedDB.open(dbName!);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const handle = open.result;
          if (!handle.objectStoreNames.contains(storeName!)) return (handle.close(), resolve([]));
          const objects = handle.transaction(storeName!, 'readonly').objectStore(storeName!);
          const keys = objects.getAllKeys();
          const values = objects.getAll();
          values.onsuccess = () => {
            handle.close();
            resolve(keys.result.map((k, i) => [String(k), values.result[i]]));
          };
          values.onerror = () => reject(values.error);
        };
      });
    },
    [db, store],
  );
}

/**
 * What the device keeps: the version of its stored manifest, the versions of its cached model bytes and
 * results, and its trust state (but when the record was last fresh, which each good contact moves on).
 */
async function kept(p: Page) {
  const manifest = (await indexedDbEntries(p, 'tandem-manifests', 'manifests')).find(([k]) => k === `manifest:${MODEL}`)?.[1] as
    | { payload: string }
    | undefined;
  const meta = await indexedDbEntries(p, 'tandem-models-meta', 'meta');
  const results = await indexedDbEntries(p, 'tandem-results', 'results');
  const trust = (await indexedDbEntries(p, 'tandem-trust', 'trust')).find(([k]) => k === 'trust')?.[1] as
    | { state: { rootVersion: number; timestampVersion: number; floors: Record<string, string> } }
    | undefined;
  return {
    manifestVersion: manifest && (JSON.parse(Buffer.from(manifest.payload, 'base64').toString('utf8')) as { version: string }).version,
    modelVersions: meta.map(([, m]) => (m as { version?: string }).version),
    resultVersions: [...new Set(results.map(([k]) => /@([^:]+):/.exec(k)?.[1]))],
    trust: trust && { rootVersion: trust.state.rootVersion, timestampVersion: trust.state.timestampVersion, floors: trust.state.floors },
  };
}

/** Serves `body` instead of the edge's answer on GET requests to `url`, keeping the edge's headers (CORS). */
async function replace(url: string, body: string): Promise<() => Promise<void>> {
  const handler = async (route: import('playwright-core').Route) => {
    if (route.request().method() !== 'GET') return route.continue();
    const response = await route.fetch();
    await route.fulfill({ response, body, headers: { ...response.headers(), 'content-type': 'application/json', 'cache-control': 'no-store' } });
  };
  await device.route(url, handler);
  return () => device.unroute(url, handler);
}

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  await copyVersion(repo, MODEL, '1.0.0', '1.1.0');
  keyDir = await mkdtemp(join(tmpdir(), 'tandem-e2e-client-trust-'));
  // The repository's signing key is the stack's dev key: the release key of the dev root.
  await writeSigningKey(keyFile(DEV_KEY_FILE), repo.key);
  const trust = await ensureDevTrust(repo.repository, { keyDir });
  expect(trust.record.models[MODEL]?.current).toBe('1.1.0');
  [stack, browser] = await Promise.all([
    startStack({
      repository: repo.repository,
      trustedKeysFile: keyFile(TRUSTED_KEYS_FILE),
      rootKeysFile: trust.rootKeysFile,
      onLine: (tier, line) => {
        if (/error|warn|fatal/i.test(line)) console.log(`[${tier}] ${line}`);
      },
    }),
    launchChromium(),
  ]);
  device = await browser.newContext();
  page = await DemoPage.open(device, stack.demoUrl, { capabilities: WASM_ONLY });
});

afterAll(async () => {
  await device?.close();
  await browser?.close();
  await stack?.stop();
  await repo?.cleanup();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('a device pinning the root keys', () => {
  it("sees 1.1.0, then refuses 1.0.0's validly signed manifest served as current (rollback_detected), keeping 1.1.0", async () => {
    // The demo config pins the dev root keys, and the page passes them to createTandem.
    const config = (await (await fetch(new URL('/demo-config.json', stack.demoUrl))).json()) as { rootKeys: { keys: { keyid: string }[] } | null };
    expect(config.rootKeys?.keys).toHaveLength(1);
    await page.loadOk(MODEL, 'device-only');
    expect(await page.text('model-version')).toContain('1.1.0');
    expect((await page.runOk(3)).version).toBe('1.1.0');
    expect(page.requestsTo('/v1/trust/timestamp.json').length).toBeGreaterThanOrEqual(1);
    const before = await kept(page.page);
    expect(before).toMatchObject({
      manifestVersion: '1.1.0',
      modelVersions: ['1.1.0'],
      resultVersions: ['1.1.0'],
      trust: { rootVersion: 1, floors: { [MODEL]: '1.1.0' } },
    });

    const restore = await replace(MANIFEST_ROUTE, await repoFile(envelopeKey(MODEL, '1.0.0')));
    try {
      const refused = await page.load(MODEL, 'device-only');
      expect(refused).toMatchObject({ ok: false, code: 'rollback_detected' });
    } finally {
      await restore();
    }
    // Nothing of 1.0.0 was kept: the caches and the floor are as they were.
    expect(await kept(page.page)).toEqual(before);
    const mark = page.requests.length;
    await page.loadOk(MODEL, 'device-only');
    expect(await page.text('model-version')).toContain('1.1.0');
    expect(await page.text('attempts')).toContain('bytes from the model cache');
    expect(page.requestsTo(ARTIFACT_PATH, mark)).toEqual([]);
    await page.screenshot('trust-01-rollback-refused');
  });

  it("`tandem revoke` of 1.1.0: the device's next contact evicts it from both caches, and it never loads again", async () => {
    const beforeRevocation = await repoFile(TIMESTAMP_KEY);
    expect(
      await tandem('revoke', '--model', MODEL, '--version', '1.1.0', '--current', '1.0.0', '--key', keyFile(DEV_TIMESTAMP_KEY_FILE), ...onRepository()),
    ).toMatch(/revoked/);
    await stack.restartEdge(); // Seeds R2 again from the repository: the edge serves the new record.

    // An origin-only load touches no model bytes: what goes, the contact's eviction took.
    await page.loadOk(MODEL, 'origin-only');
    expect(await page.text('model-version')).toContain('1.0.0');
    const after = await kept(page.page);
    expect(after.modelVersions).toEqual([]);
    expect(after.resultVersions).not.toContain('1.1.0');
    expect(after.trust?.floors[MODEL]).toBe('1.1.0'); // The highest seen stays; the record's current decides.

    // 1.1.0's manifest served again, and the record from before the revocation replayed: refused.
    let restore = await replace(MANIFEST_ROUTE, await repoFile(envelopeKey(MODEL, '1.1.0')));
    try {
      expect(await page.load(MODEL, 'device-only')).toMatchObject({ ok: false, code: 'version_revoked' });
    } finally {
      await restore();
    }
    restore = await replace(TIMESTAMP_ROUTE, beforeRevocation);
    try {
      expect(await page.load(MODEL, 'device-only')).toMatchObject({ ok: false, code: 'rollback_detected' });
    } finally {
      await restore();
    }
    expect((await kept(page.page)).modelVersions).toEqual([]);

    // The current version loads and runs on the device, its bytes downloaded again.
    const mark = page.requests.length;
    await page.loadOk(MODEL, 'device-only');
    expect(await page.text('model-version')).toContain('1.0.0');
    expect((await page.runOk(4)).version).toBe('1.0.0');
    expect(page.requestsTo(ARTIFACT_PATH, mark).length).toBeGreaterThanOrEqual(1);
    expect((await kept(page.page)).modelVersions).toEqual(['1.0.0']);
    await page.screenshot('trust-02-revoked-evicted');
  });

  it('`tandem root rotate` to a new release key: the same page, unchanged, keeps loading models', async () => {
    await tandem('keygen', '--out', keyFile('release-2.json'), '--trusted', keyFile('release-2-trusted.json'));
    // The live version re-signed by the new key alone: the old one (the demo's publicKeys) signs nothing that counts.
    const envelope = join(repo.repository, ...envelopeKey(MODEL, '1.0.0').split('/'));
    await tandem('sign', envelope, '--key', keyFile('release-2.json'), '--out', envelope);
    expect(await tandem('root', 'rotate', '--release-key', keyFile('release-2.json'), '--sign-with', keyFile(DEV_ROOT_KEY_FILE), ...onRepository())).toMatch(
      /root version 2 written/,
    );
    await tandem('timestamp', '--key', keyFile(DEV_TIMESTAMP_KEY_FILE), ...onRepository());
    await stack.restartOrigin();
    await stack.restartEdge();
    const newKey = (JSON.parse(await readFile(keyFile('release-2.json'), 'utf8')) as { keyid: string }).keyid;
    expect((JSON.parse(await repoFile(envelopeKey(MODEL, '1.0.0'))) as { signatures: { keyid: string }[] }).signatures.map((s) => s.keyid)).toEqual([newKey]);

    const mark = page.requests.length;
    await page.loadOk(MODEL, 'device-only');
    expect(await page.text('model-version')).toContain('1.0.0 (manifest from network)');
    expect(page.requestsTo('/v1/trust/root/2.json', mark)).toHaveLength(1);
    expect((await kept(page.page)).trust?.rootVersion).toBe(2);
    expect((await page.runOk(5)).ranOn).toBe('device');
    // And after a reload, from the stored root version 2: the chain is not walked from 1 again.
    await page.reload();
    const reloaded = page.requests.length;
    await page.loadOk(MODEL, 'prefer-device');
    expect(page.requestsTo('/v1/trust/root/1.json', reloaded)).toEqual([]);
    expect(page.requestsTo('/v1/trust/root/3.json', reloaded)).toHaveLength(1);
    await page.screenshot('trust-03-key-rotated');
  });
});
