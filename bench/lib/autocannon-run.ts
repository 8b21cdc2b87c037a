/**
 * One load cell driven by autocannon (programmatic API): keep-alive connections, each sending the same
 * prebuilt request (one row) again as soon as its answer arrives (closed loop: `connections` is the
 * concurrency). Open loop is ./open-loop.ts.
 *
 * The figures are computed here rather than taken from autocannon's summary, which has no p95 and counts its
 * warm-up in the throughput. So each answer's own latency (autocannon's `response` event: request
 * written to last byte read) is recorded after the warm-up, and throughput counts only answers inside the
 * measured window.
 */
import autocannon from 'autocannon';
import { Recorder, type LoadResult, type Target } from './recorder.ts';

export interface ClosedLoopOptions {
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Called when the measured window opens and when it closes (for server-side counters). */
  onWindow?: (edge: 'start' | 'end') => void | Promise<void>;
}

/** Closed loop at fixed concurrency for warm-up + duration seconds; figures from the part after the warm-up. */
export async function runClosedLoop(target: Target, options: ClosedLoopOptions): Promise<LoadResult> {
  const recorder = new Recorder();
  let opened: Promise<void> | undefined;
  const windowTimer = setTimeout(() => {
    recorder.open();
    opened = Promise.resolve(options.onWindow?.('start'));
  }, options.warmupSeconds * 1000);
  try {
    await runInstance(
      {
        ...autocannonTarget(target),
        connections: options.connections,
        duration: options.warmupSeconds + options.durationSeconds,
      },
      recorder,
    );
  } finally {
    clearTimeout(windowTimer);
  }
  recorder.close();
  if (opened) {
    await opened;
    await options.onWindow?.('end');
  }
  return recorder.result();
}

function autocannonTarget(target: Target): autocannon.Options {
  return {
    url: target.url,
    method: target.method,
    headers: target.headers,
    ...(target.body ? { body: target.body } : {}),
    timeout: 30,
  };
}

function runInstance(options: autocannon.Options, recorder: Recorder): Promise<void> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error) => (error ? reject(error) : resolve()));
    instance.on('response', (_client, status, _bytes, ms) => recorder.response(status, ms));
    instance.on('reqError', () => recorder.error());
  });
}
