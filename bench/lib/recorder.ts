/**
 * What a load cell records: each answer's latency and status while the measured window is open (the
 * warm-up before it and the drain after it are not counted), and the figures made from them.
 */
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

/** Latencies and counts of the answers that arrive while the window is open. */
export class Recorder {
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
