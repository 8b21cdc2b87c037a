/** One autocannon run against one URL: latency percentiles from every answer, and requests per second. */
import autocannon from 'autocannon';
import { percentiles } from './stats.ts';

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
  p99: number;
  rps: number;
  requests: number;
  errors: number;
}

export function measure(target: Target, connections: number, durationSeconds: number): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    let errors = 0;
    const started = performance.now();
    const instance = autocannon(
      {
        url: target.url,
        method: target.method ?? 'POST',
        headers: target.headers,
        ...(target.method === 'GET' ? {} : { body: target.body }),
        connections,
        duration: durationSeconds,
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        const seconds = (performance.now() - started) / 1000;
        const [p50, p95, p99] = percentiles(times, [50, 95, 99]);
        resolve({
          p50: p50!,
          p95: p95!,
          p99: p99!,
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
