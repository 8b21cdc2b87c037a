import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../protocol/sha256.ts';
import { downloadArtifact } from './download.ts';

const noWait = { sleep: async () => {} };
const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 };

/** A body that delivers `bytes` in chunks of `chunk`, then fails after `failAfter` bytes if given. */
function body(bytes: Uint8Array, chunk: number, failAfter?: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (failAfter !== undefined && offset >= failAfter) return controller.error(new TypeError('network error'));
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

describe('downloadArtifact', async () => {
  const file = new Uint8Array(1000).map((_, i) => i % 251);
  const ref = { url: 'https://edge/v1/artifacts/x', sha256: await sha256Hex(file), bytes: file.length };

  it('reports progress up to bytes/total and returns the verified bytes', async () => {
    const progress: number[] = [];
    const fetch = (async () => new Response(body(file, 300))) as typeof globalThis.fetch;
    const out = await downloadArtifact(ref, { fetch, retry: policy, onProgress: (p) => progress.push(p.loaded) });
    expect(out).toEqual(file);
    expect(progress).toEqual([0, 300, 600, 900, 1000]);
  });

  it('resumes an interrupted body with a Range request from where it stopped', async () => {
    const ranges: (string | null)[] = [];
    const fetch = (async (_url: string, init: RequestInit) => {
      const range = new Headers(init.headers).get('range');
      ranges.push(range);
      if (!range) return new Response(body(file, 200, 400));
      const from = Number(/bytes=(\d+)-/.exec(range)![1]);
      return new Response(body(file.slice(from), 200), { status: 206, headers: { 'content-range': `bytes ${from}-999/1000` } });
    }) as unknown as typeof globalThis.fetch;
    expect(await downloadArtifact(ref, { fetch, retry: policy, retryDeps: noWait })).toEqual(file);
    expect(ranges).toEqual([null, 'bytes=400-']);
  });

  it('does not splice a 206 from another byte than asked: it fetches the whole file again, which verifies', async () => {
    for (const [from, contentRange] of [
      [390, 'bytes 390-999/1000'],
      [0, 'bytes 0-999/1000'],
      [400, undefined], // A 206 that does not say where it starts.
    ] as const) {
      const ranges: (string | null)[] = [];
      const fetch = (async (_url: string, init: RequestInit) => {
        const range = new Headers(init.headers).get('range');
        ranges.push(range);
        if (ranges.length === 1) return new Response(body(file, 200, 400));
        if (!range) return new Response(body(file, 300));
        return new Response(body(file.slice(from), 200), { status: 206, headers: contentRange ? { 'content-range': contentRange } : {} });
      }) as unknown as typeof globalThis.fetch;
      expect(await downloadArtifact(ref, { fetch, retry: policy, retryDeps: noWait })).toEqual(file);
      expect(ranges).toEqual([null, 'bytes=400-', null]);
    }
  });

  it('starts over when the server ignores Range', async () => {
    let calls = 0;
    const fetch = (async () => new Response(body(file, 300, ++calls === 1 ? 300 : undefined))) as typeof globalThis.fetch;
    expect(await downloadArtifact(ref, { fetch, retry: policy, retryDeps: noWait })).toEqual(file);
  });

  it('rejects bytes whose SHA-256 differs from the manifest', async () => {
    const bad = file.slice();
    bad[500]! ^= 1;
    const fetch = (async () => new Response(bad)) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch, retry: policy })).rejects.toMatchObject({ code: 'artifact_hash_mismatch' });
  });

  it('endless data: a body longer than the manifest says is not the signed artifact, cut off at the bound', async () => {
    // artifact_hash_mismatch, not the caller's payload_too_large: the integrity path falls back to the origin.
    const longer = { code: 'artifact_hash_mismatch', message: `artifact ${ref.sha256.slice(0, 12)} is longer than its manifest's 1000 bytes` };
    // Declared: refused before a byte is read.
    let pulled = 0;
    const declared = (async () =>
      new Response(new ReadableStream({ pull: (c) => void (pulled++, c.enqueue(new Uint8Array(100))) }), {
        headers: { 'content-length': '5000000' },
      })) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch: declared, retry: policy })).rejects.toMatchObject(longer);
    expect(pulled).toBeLessThanOrEqual(1); // A stream may pull once on creation; nothing was read.
    // Undeclared and endless: read only up to the bound.
    let sent = 0;
    const endless = (async () =>
      new Response(new ReadableStream({ pull: (c) => void ((sent += 300), c.enqueue(new Uint8Array(300))) }))) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch: endless, retry: policy })).rejects.toMatchObject(longer);
    expect(sent).toBeLessThan(2000);
    // A file whose first bytes are the signed ones, with more after them.
    const padded = (async () => new Response(new Uint8Array([...file, 1, 2, 3]))) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch: padded, retry: policy })).rejects.toMatchObject(longer);
  });

  it('slow retrieval: a body that stalls, or drips past its deadline, is deadline_exceeded after every attempt', async () => {
    let attempts = 0;
    const stalled = (async () => (attempts++, new Response(new ReadableStream({ pull: () => new Promise(() => {}) })))) as typeof globalThis.fetch;
    const start = Date.now();
    await expect(downloadArtifact(ref, { fetch: stalled, retry: policy, retryDeps: noWait, timeoutMs: 50 })).rejects.toMatchObject({
      code: 'deadline_exceeded',
    });
    expect(attempts).toBe(3);
    expect(Date.now() - start).toBeLessThan(5000);
    // One byte at a time, each within the stall limit: the attempt's deadline (timeoutMs + size at 16 KiB/s) ends it.
    const drip = (async () =>
      new Response(
        new ReadableStream({
          // Cancelled by the reader when the deadline passes: a pending pull then has nowhere to write.
          pull: (c) => new Promise<void>((r) => setTimeout(() => r(void ((c.desiredSize ?? 0) > 0 && c.enqueue(new Uint8Array(1)))), 20)),
          cancel: () => {},
        }),
      )) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch: drip, retry: { ...policy, attempts: 1 }, timeoutMs: 100 })).rejects.toMatchObject({
      code: 'deadline_exceeded',
    });
  });

  it("passes the edge's typed error through and maps a dead network to offline", async () => {
    const notFound = (async () =>
      new Response(JSON.stringify({ error: { code: 'artifact_missing', message: 'gone' } }), { status: 422 })) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch: notFound, retry: policy })).rejects.toMatchObject({ code: 'artifact_missing' });
    const dead = (async () => Promise.reject(new TypeError('Failed to fetch'))) as typeof globalThis.fetch;
    await expect(downloadArtifact(ref, { fetch: dead, retry: policy, retryDeps: noWait, online: () => false })).rejects.toMatchObject({ code: 'offline' });
  });
});
