import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { injectManifest } from '@serwist/build';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { HASHED_FILE, injectManifestOptions, OFFLINE_DEFAULTS, resolveOfflineOptions } from './precache-config.ts';

describe('resolveOfflineOptions', () => {
  it('fills in the defaults, and keeps what is given', () => {
    expect(resolveOfflineOptions()).toEqual(OFFLINE_DEFAULTS);
    expect(resolveOfflineOptions({ swDest: 'shell.js', globIgnores: ['big/**'] })).toMatchObject({ swDest: 'shell.js', globIgnores: ['big/**'] });
  });

  it.each([
    [{ swDest: '../sw.js' }, /swDest/],
    [{ swDest: 'sub/sw.js' }, /swDest/],
    [{ swDest: 'sw.mjs' }, /swDest/],
    [{ globPatterns: [] }, /globPatterns/],
    [{ globPatterns: [''] }, /globPatterns/],
    [{ globIgnores: 'x' as unknown as string[] }, /globIgnores/],
    [{ maximumFileSizeToCacheInBytes: 0 }, /maximumFileSizeToCacheInBytes/],
    [{ maximumFileSizeToCacheInBytes: 1.5 }, /maximumFileSizeToCacheInBytes/],
  ])('refuses %j with bad_request naming the option', (options, field) => {
    const err = (() => {
      try {
        resolveOfflineOptions(options);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TandemError);
    expect(err).toMatchObject({ code: 'bad_request', message: expect.stringMatching(field) });
  });
});

describe('HASHED_FILE', () => {
  it("matches Vite's [name]-[hash] file names, not plain ones", () => {
    expect(HASHED_FILE.test('assets/index-B3T1f-zH.js')).toBe(true);
    expect(HASHED_FILE.test('assets/ort-wasm-simd-threaded.jsep-CMnB_GCh.wasm')).toBe(true);
    expect(HASHED_FILE.test('index.html')).toBe(false);
    expect(HASHED_FILE.test('assets/logo.svg')).toBe(false);
  });
});

describe("injectManifestOptions, through Serwist's injectManifest", () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'tandem-precache-'));
    await mkdir(join(out, 'assets'));
    const files: Record<string, string | Uint8Array> = {
      'index.html': '<!doctype html>',
      'assets/index-AbCd1234.js': 'console.log(1)',
      'assets/index-AbCd1234.js.map': '{}',
      'assets/worker-Xy_z-987.js': 'self.onmessage = null',
      'assets/ort-wasm-simd-threaded.jsep-Qq12Ww34.wasm': new Uint8Array(3 * 1024 * 1024),
      'assets/ort-wasm-simd-threaded.jsep-Qq12Ww34.mjs': 'export {}',
      'notes.txt': 'not an app file',
      'sw-source.js': 'const list = self.__SW_MANIFEST;',
    };
    for (const [file, body] of Object.entries(files)) await writeFile(join(out, file), body);
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('precaches the pages, scripts, worker and onnxruntime files (a 3 MiB .wasm too), hashed names without a revision', async () => {
    const options = injectManifestOptions(out, join(out, 'sw-source.js'), resolveOfflineOptions());
    const { count, warnings } = await injectManifest(options);
    expect(warnings).toEqual([]);
    const written = await readFile(join(out, 'sw.js'), 'utf8');
    const list = JSON.parse(/^const list = (.*);$/.exec(written)![1]!) as { url: string; revision: string | null }[];
    expect(list.map((e) => e.url).sort()).toEqual([
      'assets/index-AbCd1234.js',
      'assets/ort-wasm-simd-threaded.jsep-Qq12Ww34.mjs',
      'assets/ort-wasm-simd-threaded.jsep-Qq12Ww34.wasm',
      'assets/worker-Xy_z-987.js',
      'index.html',
    ]);
    expect(count).toBe(5);
    for (const entry of list) expect(entry.revision === null, entry.url).toBe(entry.url !== 'index.html');
    expect(list.find((e) => e.url === 'index.html')!.revision).toMatch(/^[0-9a-f]{32}$/);
  });

  it('leaves out, with a warning, a file over maximumFileSizeToCacheInBytes', async () => {
    const options = injectManifestOptions(
      out,
      join(out, 'sw-source.js'),
      resolveOfflineOptions({ swDest: 'small.js', maximumFileSizeToCacheInBytes: 1024 * 1024 }),
    );
    const { warnings } = await injectManifest(options);
    expect(warnings.join('\n')).toMatch(/ort-wasm-simd-threaded\.jsep-Qq12Ww34\.wasm/);
    expect(await readFile(join(out, 'small.js'), 'utf8')).not.toMatch(/\.wasm/);
  });
});
