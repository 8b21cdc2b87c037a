import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runOpenLoop } from './open-loop.ts';

/** A server that answers every request `delayMs` after it arrived, and notes when each arrived. */
async function slowServer(delayMs: number, status = 200): Promise<{ url: string; arrivals: number[]; server: Server }> {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    arrivals.push(performance.now());
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(status).end('ok'), delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/infer`, arrivals, server };
}

let open: Server | undefined;
afterEach(async () => {
  const server = open;
  open = undefined;
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const target = (url: string) => ({ url, method: 'POST' as const, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('x') });

describe('runOpenLoop', () => {
  it('sends at its rate whatever the server answers: arrivals do not wait for answers', async () => {
    const { url, arrivals, server } = await slowServer(200);
    open = server;
    // random 0.5: every gap is ln 2 × 5 ms ≈ 3.47 ms, so 0.6 s holds 173 arrivals.
    const result = await runOpenLoop(target(url), { rate: 200, warmupSeconds: 0.1, durationSeconds: 0.5, random: () => 0.5 });
    expect(arrivals.length).toBeGreaterThanOrEqual(170);
    expect(arrivals.length).toBeLessThanOrEqual(174);
    // Each took 200 ms, yet they overlapped: a closed loop on few connections could not have sent them.
    expect(result.p50_ms).toBeGreaterThanOrEqual(200);
    expect(result.errors).toBe(0);
  });

  it('spreads arrivals over the second instead of sending them in bursts', async () => {
    const { url, arrivals, server } = await slowServer(1);
    open = server;
    await runOpenLoop(target(url), { rate: 400, warmupSeconds: 0.1, durationSeconds: 0.5, random: () => 0.5 });
    // Gaps of 1.73 ms, sent on a 1 ms timer. autocannon's rate limit sent a slice's quota for the second
    // at once: most arrivals then came microseconds after the one before.
    const gaps = arrivals
      .slice(1)
      .map((t, i) => t - arrivals[i]!)
      .sort((a, b) => a - b);
    expect(gaps[gaps.length >> 1]).toBeGreaterThan(0.5);
  });

  it('counts the wait for a free connection in the latency (from when the request was due)', async () => {
    const { url, server } = await slowServer(50);
    open = server;
    // 100 requests/s on 2 connections that each take 50 ms: at most 40/s get through, the rest queue.
    const result = await runOpenLoop(target(url), { rate: 100, warmupSeconds: 0.1, durationSeconds: 0.5, maxConnections: 2, random: () => 0.5 });
    expect(result.p95_ms).toBeGreaterThan(150);
  });

  it('counts answers outside 2xx apart from the latencies', async () => {
    const { url, server } = await slowServer(1, 503);
    open = server;
    const result = await runOpenLoop(target(url), { rate: 100, warmupSeconds: 0.1, durationSeconds: 0.3 });
    expect(result.requests).toBe(0);
    expect(result.non2xx).toBeGreaterThan(0);
    expect(result.status_codes['503']).toBe(result.non2xx);
  });

  it('counts a refused connection as an error, not an answer', async () => {
    const { url, server } = await slowServer(1);
    await new Promise((resolve) => server.close(resolve));
    const result = await runOpenLoop(target(url), { rate: 50, warmupSeconds: 0, durationSeconds: 0.2 });
    expect(result.errors).toBeGreaterThan(0);
    expect(result.requests).toBe(0);
  });

  it('refuses a rate that is not above 0', async () => {
    await expect(runOpenLoop(target('http://127.0.0.1:1/'), { rate: 0, warmupSeconds: 0, durationSeconds: 1 })).rejects.toThrow(/rate must be above 0/);
  });
});
