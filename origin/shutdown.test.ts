/**
 * Graceful shutdown of a real origin process: SIGTERM while requests are queued, and while keep-alive
 * clients keep sending.
 */
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeInferRequest } from '../protocol/oip-codec.ts';
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
    const { child, url, logs, exited } = await spawnChildOrigin(repo, {
      // Requests wait up to 30 s for a batch to fill, so all ten are still queued when SIGTERM lands
      // however slowly they arrive; draining flushes the queue without that wait.
      TANDEM_MAX_QUEUE_DELAY_MS: '30000',
      TANDEM_BATCH_DISPATCH: 'delay',
      TANDEM_MAX_BATCH_SIZE: '64',
      TANDEM_DRAIN_TIMEOUT_MS: '5000',
    });

    const request = { inputs: [{ name: 'x', dtype: 'float32' as const, dims: [1, 256], data: randomFloats(256, 5) }] };
    const queued = Array.from({ length: 10 }, () => infer(url, 'mlp-classifier', request, { binary: true }));
    // SIGTERM once all ten are queued (the queue-depth gauge says so), not after a guess at how long
    // sending them takes: on a loaded machine some would otherwise arrive after the signal.
    await waitFor(async () => /^tandem_origin_queue_depth_rows\{[^}]*\} 10$/m.test(await (await fetch(`${url}/metrics`)).text()), 30_000);
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

  it('drains while keep-alive clients keep sending: closes their connections, finishes admitted work, exits 0', async () => {
    // Found (issue 18): the origin answered 503 `shutting_down` on the open connections for as long as the
    // clients kept sending, then exited 1 at the deadline and reset the work in flight.
    const drainTimeoutMs = 6000;
    const origin = await spawnChildOrigin(repo, { TANDEM_INTRA_OP_THREADS: '1', TANDEM_DRAIN_TIMEOUT_MS: String(drainTimeoutMs) });
    const { logs } = origin;
    try {
      const { body, headers } = encodeInferRequest(
        { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: randomFloats(256, 11) }] },
        { binary: true },
      );
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      const outcomes: (Outcome & { afterSignal: boolean })[] = [];
      let signalledAt: number | undefined;
      const client = async () => {
        const started = performance.now();
        // Sends back to back on kept-alive connections until the server stops accepting connections.
        while (performance.now() - started < drainTimeoutMs + 5000) {
          const afterSignal = signalledAt !== undefined;
          const outcome = await post(agent, origin.port, body, { ...headers, authorization: `Bearer ${INFER_TOKEN}` });
          outcomes.push({ ...outcome, afterSignal });
          if (outcome.error === 'ECONNREFUSED') return;
        }
      };
      const clients = Array.from({ length: 4 }, client);
      await new Promise((resolve) => setTimeout(resolve, 500));
      signalledAt = performance.now();
      origin.child.kill('SIGTERM');
      const code = await origin.exited;
      const drainMs = performance.now() - signalledAt;
      await Promise.all(clients);
      agent.destroy();

      expect(code).toBe(0);
      expect(drainMs).toBeLessThan(drainTimeoutMs / 2);
      expect(logs.find((l) => l.event === 'stopped')).toMatchObject({ drained: true });
      const answered = outcomes.filter((o) => o.status !== undefined);
      expect(answered.filter((o) => !o.afterSignal && o.status === 200).length).toBeGreaterThan(10);
      for (const o of answered) {
        if (o.status === 200) continue;
        expect(o.status).toBe(503);
        expect(JSON.parse(o.body!).code).toBe('shutting_down');
        expect(o.connection).toBe('close');
      }
      // Each connection hears `shutting_down` at most once: the answer closes it.
      expect(answered.filter((o) => o.status === 503).length).toBeLessThanOrEqual(4);
      // What fails is only a connection the server no longer accepts, or one it closed as the request left.
      for (const o of outcomes) if (o.error !== undefined) expect(['ECONNREFUSED', 'ECONNRESET', 'socket hang up']).toContain(o.error);
    } finally {
      origin.child.kill('SIGKILL'); // Nothing if it has exited, as it should have.
    }
  });
});

/**
 * `origin/main.ts` as a child process under tsx, on a free port, ready once it logs `listening`. (The
 * stack's launcher, stack/origin-process.ts, does the same for the tiers above; origin/ cannot import it.)
 */
async function spawnChildOrigin(repo: TestRepository, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts'), '--port', '0'], {
    env: {
      ...process.env,
      TANDEM_MODEL_REPOSITORY: repo.repository,
      TANDEM_TRUSTED_KEYS: repo.trustedKeys,
      TANDEM_ORIGIN_TOKEN: INFER_TOKEN,
      TANDEM_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
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
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.event === 'listening') resolve(String(entry.url));
      }
    });
    void exited.then((code) => reject(new Error(`origin exited with ${code} before listening`)));
  });
  return { child, url, port: Number(new URL(url).port), logs, exited };
}

interface Outcome {
  status?: number;
  connection?: string;
  body?: string;
  error?: string;
}

/** One POST on a kept-alive connection of `agent`, as its outcome: the answer, or the socket error. */
function post(agent: Agent, port: number, body: Uint8Array, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v2/models/mlp-classifier/infer',
        agent,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection ?? '', body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
