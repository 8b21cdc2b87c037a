/**
 * Graceful shutdown of a real origin process: SIGTERM while requests are queued.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, INFER_TOKEN, infer, randomFloats, signedRepository, type TestRepository } from './test-support.ts';

describe('origin graceful shutdown', () => {
  let repo: TestRepository;
  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier']);
  });
  afterAll(async () => {
    await repo?.cleanup();
  });

  it('on SIGTERM stops taking work, finishes every queued request, and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts'), '--port', '0'], {
      env: {
        ...process.env,
        TANDEM_MODEL_REPOSITORY: repo.repository,
        TANDEM_TRUSTED_KEYS: repo.trustedKeys,
        TANDEM_ORIGIN_TOKEN: INFER_TOKEN,
        TANDEM_ADMIN_TOKEN: ADMIN_TOKEN,
        // Requests wait up to 400 ms for a batch to fill, so they are still queued when SIGTERM lands.
        TANDEM_MAX_QUEUE_DELAY_MS: '400',
        TANDEM_BATCH_DISPATCH: 'delay',
        TANDEM_MAX_BATCH_SIZE: '64',
        TANDEM_DRAIN_TIMEOUT_MS: '5000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: Record<string, unknown>[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.event === 'listening') resolve(String(entry.url));
        }
      });
      void exited.then((code) => reject(new Error(`origin exited with ${code} before listening`)));
    });

    const request = { inputs: [{ name: 'x', dtype: 'float32' as const, dims: [1, 256], data: randomFloats(256, 5) }] };
    const queued = Array.from({ length: 10 }, () => infer(url, 'mlp-classifier', request, { binary: true }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const late = await infer(url, 'mlp-classifier', request).catch((err: Error) => err);

    const results = await Promise.all(queued);
    expect(results.map((r) => (r.ok ? 200 : r.error.code))).toEqual(new Array(10).fill(200));
    // Arriving after SIGTERM: refused (503) on a kept-alive connection, or not accepted at all.
    if (!(late instanceof Error)) expect(late.ok ? 200 : late.error.code).toBe('shutting_down');
    expect(await exited).toBe(0);
    expect(logs.map((l) => l.event)).toEqual(expect.arrayContaining(['draining', 'stopped']));
    expect(logs.find((l) => l.event === 'stopped')).toMatchObject({ drained: true });
  });
});
