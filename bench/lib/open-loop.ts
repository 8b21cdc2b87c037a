/**
 * One open-loop load cell: requests arrive at `rate` per second as a Poisson process (independent
 * callers: exponential gaps between arrivals), whatever the server answers, each on a free keep-alive
 * connection of node:http's agent; an arrival that finds every connection busy waits for one, and that
 * wait counts in its latency.
 *
 * Why not autocannon's rate limit (the closed-loop cells' generator, ./autocannon-run.ts): it lets each
 * connection send its quota for the second back to back when the second starts, so its "rate" arrives
 * as bursts (spread over 20 instances, 72 requests at once every 50 ms at 1,450 req/s), and the p95 it
 * gave measured how long a burst took to drain, not the server's latency at that rate.
 *
 * Latency runs from the moment the request was due, not when it went out, so a generator that falls
 * behind shows as latency instead of hiding it (coordinated omission). The window opens after the
 * warm-up and closes `durationSeconds` later; requests still in flight then finish before this returns,
 * and only answers inside the window count.
 */
import { Agent, request } from 'node:http';
import { Recorder, type LoadResult, type Target } from './recorder.ts';

export interface OpenLoopOptions {
  /** Mean arrivals per second. */
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Most connections open at once (default 512). */
  maxConnections?: number;
  /** Called when the measured window opens and when it closes (for server-side counters). */
  onWindow?: (edge: 'start' | 'end') => void | Promise<void>;
  /** Uniform numbers in [0, 1) for the arrival gaps (default Math.random). */
  random?: () => number;
}

/** How often due arrivals are sent, ms: the timer's own granularity. */
const TICK_MS = 1;
/** A request unanswered this long counts as an error. */
const TIMEOUT_MS = 30_000;

export async function runOpenLoop(target: Target, options: OpenLoopOptions): Promise<LoadResult> {
  if (!(options.rate > 0)) throw new Error(`rate must be above 0 requests/s, got ${options.rate}`);
  const random = options.random ?? Math.random;
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxConnections ?? 512 });
  const recorder = new Recorder();
  const meanGapMs = 1000 / options.rate;
  const gap = () => -Math.log(1 - random()) * meanGapMs;

  const send = (dueAt: number) =>
    new Promise<void>((resolve) => {
      const req = request(
        { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: target.method, headers: target.headers, timeout: TIMEOUT_MS },
        (res) => {
          res.resume();
          res.on('end', () => {
            recorder.response(res.statusCode ?? 0, performance.now() - dueAt);
            resolve();
          });
          res.on('error', () => {
            recorder.error();
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => {
        recorder.error();
        resolve();
      });
      req.end(target.body);
    });

  const started = performance.now();
  const opensAt = started + options.warmupSeconds * 1000;
  const closesAt = opensAt + options.durationSeconds * 1000;
  const edges: Promise<void>[] = [];
  const sent: Promise<void>[] = [];
  let next = started + gap();
  let opened = false;
  try {
    await new Promise<void>((done) => {
      const tick = () => {
        const now = performance.now();
        if (!opened && now >= opensAt) {
          opened = true;
          recorder.open();
          edges.push(Promise.resolve(options.onWindow?.('start')));
        }
        for (; next <= now && next < closesAt; next += gap()) sent.push(send(next));
        if (now >= closesAt) {
          recorder.close();
          edges.push(Promise.resolve(options.onWindow?.('end')));
          done();
          return;
        }
        setTimeout(tick, TICK_MS);
      };
      tick();
    });
    await Promise.all(sent); // Each settles once answered or failed: never rejects.
  } finally {
    agent.destroy();
  }
  await Promise.all(edges);
  return recorder.result(options.durationSeconds);
}
