/**
 * One load cell driven by autocannon (programmatic API): keep-alive connections, each sending the same
 * prebuilt request (one row) again as soon as its answer arrives (closed loop: `connections` is the
 * concurrency), or a fixed overall request rate (open loop).
 *
 * The figures are computed here rather than taken from autocannon's summary, which has no p95, counts its
 * warm-up in the throughput, and, with a rate set, "corrects" coordinated omission with an expected interval
 * of ceil(1 / rate) ms (1 ms for any rate of at least 1/s, instead of 1000 / rate), filling the histogram
 * with synthetic short latencies. So each answer's own latency (autocannon's `response` event: request
 * written to last byte read) is recorded after the warm-up, and throughput counts only answers inside the
 * measured window.
 *
 * Open loop: autocannon's rate limiter lets each connection send its quota for the second back to back
 * when the second starts, and all connections of one instance start their seconds together, so one instance
 * at `overallRate` R sends R requests in a burst once a second. `runAtRate` therefore spreads the rate over
 * `slices` instances started 1/slices s apart, with one connection per request/s (up to a cap), so requests
 * arrive in small bursts every 1000/slices ms and none waits behind another on its connection.
 */
import autocannon from 'autocannon';
import { percentiles, round } from './stats.ts';

export interface Target {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
}

export interface LoadResult {
  /** 2xx answers inside the measured window. */
  requests: number;
  seconds: number;
  throughput_rps: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  /** Connection errors and timeouts inside the window. */
  errors: number;
  /** Answers with a status outside 2xx inside the window. */
  non2xx: number;
  status_codes: Record<string, number>;
}

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

export interface RateOptions {
  /** Requests per second over all connections. */
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Instances started 1/slices s apart (default 20). */
  slices?: number;
  /** Most connections per instance (default 64). */
  maxConnectionsPerSlice?: number;
  onWindow?: (edge: 'start' | 'end') => void | Promise<void>;
}

/**
 * Open loop at `rate` requests/s. The window opens once every slice has started (at least 1 s in) and
 * closes `durationSeconds` later; throughput counts the 2xx answers inside it.
 */
export async function runAtRate(target: Target, options: RateOptions): Promise<LoadResult> {
  const rate = Math.max(1, Math.round(options.rate));
  const slices = Math.min(options.slices ?? 20, rate);
  const maxConnections = options.maxConnectionsPerSlice ?? 64;
  const warmup = Math.max(1, options.warmupSeconds);
  const recorder = new Recorder();
  const at = (seconds: number, action: () => void) => timers.push(setTimeout(action, seconds * 1000));
  const timers: NodeJS.Timeout[] = [];
  const edges: Promise<void>[] = [];
  at(warmup, () => {
    recorder.open();
    edges.push(Promise.resolve(options.onWindow?.('start')));
  });
  at(warmup + options.durationSeconds, () => {
    recorder.close();
    edges.push(Promise.resolve(options.onWindow?.('end')));
  });
  const runs: Promise<void>[] = [];
  for (let i = 0; i < slices; i++) {
    const share = Math.floor(rate / slices) + (i < rate % slices ? 1 : 0);
    const slice: autocannon.Options = {
      ...autocannonTarget(target),
      overallRate: share,
      connections: Math.min(share, maxConnections),
      ignoreCoordinatedOmission: true,
      duration: warmup + options.durationSeconds,
    };
    runs.push(new Promise<void>((resolve, reject) => at(i / slices, () => runInstance(slice, recorder).then(resolve, reject))));
  }
  try {
    await Promise.all(runs);
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  recorder.close();
  await Promise.all(edges);
  return recorder.result(options.durationSeconds);
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

/** Latencies and counts of the answers that arrive while the window is open. */
class Recorder {
  private openedAt: number | undefined;
  private closedAt: number | undefined;
  private latencies: number[] = [];
  private errors = 0;
  private non2xx = 0;
  private codes = new Map<number, number>();

  open(): void {
    this.openedAt ??= performance.now();
  }

  close(): void {
    if (this.openedAt !== undefined) this.closedAt ??= performance.now();
  }

  private get measuring(): boolean {
    return this.openedAt !== undefined && this.closedAt === undefined;
  }

  response(status: number, ms: number): void {
    if (!this.measuring) return;
    this.codes.set(status, (this.codes.get(status) ?? 0) + 1);
    if (status >= 200 && status < 300) this.latencies.push(ms);
    else this.non2xx++;
  }

  error(): void {
    if (this.measuring) this.errors++;
  }

  /** `seconds`: the window's nominal length (rate runs), else the time it was actually open. */
  result(seconds?: number): LoadResult {
    const window = seconds ?? ((this.closedAt ?? performance.now()) - (this.openedAt ?? performance.now())) / 1000;
    const [p50, p95, p99] = percentiles(this.latencies, [50, 95, 99]);
    const mean = this.latencies.reduce((a, b) => a + b, 0) / this.latencies.length;
    return {
      requests: this.latencies.length,
      seconds: round(window, 3) ?? 0,
      throughput_rps: window > 0 ? round(this.latencies.length / window, 1) : null,
      p50_ms: round(p50!),
      p95_ms: round(p95!),
      p99_ms: round(p99!),
      mean_ms: round(mean),
      errors: this.errors,
      non2xx: this.non2xx,
      status_codes: Object.fromEntries([...this.codes].sort((a, b) => a[0] - b[0]).map(([code, n]) => [String(code), n])),
    };
  }
}
