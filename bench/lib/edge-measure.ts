/** One autocannon run against one URL: latency percentiles from every answer, and requests per second. */
import autocannon from 'autocannon';

export interface Target {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Default POST. */
  method?: 'GET' | 'POST';
  /** The status that counts as an answer. Default 200. */
  expectStatus?: number;
}

export interface Measurement {
  p50: number;
  p95: number;
  rps: number;
  requests: number;
  errors: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function measure(target: Target, connections: number, durationSeconds: number): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    let errors = 0;
    const started = performance.now();
    const instance = autocannon(
      { url: target.url, method: target.method ?? 'POST', headers: target.headers, ...(target.method === 'GET' ? {} : { body: target.body }), connections, duration: durationSeconds, timeout: 10 },
      (err, result) => {
        if (err) return reject(err);
        const seconds = (performance.now() - started) / 1000;
        times.sort((a, b) => a - b);
        resolve({
          p50: percentile(times, 50),
          p95: percentile(times, 95),
          rps: times.length / seconds,
          requests: times.length,
          errors: errors + result.errors + result.timeouts,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status === (target.expectStatus ?? 200)) times.push(ms);
      else errors++;
    });
  });
}
