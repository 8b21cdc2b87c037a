/**
 * Where an origin's time went during a cell, from its own Prometheus counters read before and after: rows
 * per onnxruntime run, runs per second, compute time per run, how much of the window a run was computing,
 * the time requests waited in the batching queue, and the server-side request time. Read over HTTP from
 * `GET /metrics` (open by default), so the origin needs no change and no log parsing on the load side.
 */

export interface MetricsSnapshot {
  at: number;
  batchRows: number;
  batches: number;
  computeSeconds: number;
  queueSeconds: number;
  queued: number;
  requestSeconds: number;
  requests: number;
}

export interface ServerBreakdown {
  /** Mean rows per onnxruntime run. */
  mean_batch_rows: number | null;
  batches_per_s: number | null;
  compute_ms_per_batch: number | null;
  /** Share of the window a batch was computing (can exceed 1 with session concurrency above 1). */
  compute_busy: number | null;
  queue_ms_mean: number | null;
  /** Server-side request time (body read to answer), mean. */
  server_ms_mean: number | null;
}

const NAMES = {
  batchRows: 'tandem_origin_batch_size_rows_sum',
  batches: 'tandem_origin_batch_size_rows_count',
  computeSeconds: 'tandem_origin_compute_seconds_sum',
  queueSeconds: 'tandem_origin_queue_wait_seconds_sum',
  queued: 'tandem_origin_queue_wait_seconds_count',
  requestSeconds: 'tandem_origin_request_duration_seconds_sum',
  requests: 'tandem_origin_request_duration_seconds_count',
} as const;

/** Reads the model's counters from `GET <baseUrl>/metrics`. */
export async function readMetrics(baseUrl: string, modelId: string): Promise<MetricsSnapshot> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`${baseUrl}/metrics answered ${res.status}`);
  return parseMetrics(await res.text(), modelId, performance.now());
}

/** The model's counters from Prometheus text (summed over versions); absent series read as 0. */
export function parseMetrics(text: string, modelId: string, at: number): MetricsSnapshot {
  const snapshot: MetricsSnapshot = { at, batchRows: 0, batches: 0, computeSeconds: 0, queueSeconds: 0, queued: 0, requestSeconds: 0, requests: 0 };
  const label = `model="${modelId}"`;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes(label)) continue;
    const name = line.slice(0, line.indexOf('{'));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    for (const [field, metric] of Object.entries(NAMES) as [keyof typeof NAMES, string][]) {
      if (name === metric && Number.isFinite(value)) snapshot[field] += value;
    }
  }
  return snapshot;
}

export function breakdown(before: MetricsSnapshot, after: MetricsSnapshot): ServerBreakdown {
  const d = (field: keyof MetricsSnapshot) => after[field] - before[field];
  const seconds = d('at') / 1000;
  const per = (a: number, b: number, scale = 1) => (b > 0 ? Math.round((a / b) * scale * 100) / 100 : null);
  return {
    mean_batch_rows: per(d('batchRows'), d('batches')),
    batches_per_s: per(d('batches'), seconds),
    compute_ms_per_batch: per(d('computeSeconds'), d('batches'), 1000),
    compute_busy: per(d('computeSeconds'), seconds),
    queue_ms_mean: per(d('queueSeconds'), d('queued'), 1000),
    server_ms_mean: per(d('requestSeconds'), d('requests'), 1000),
  };
}

/**
 * Waits until the origin has no inference request in flight (a cell that ends mid-load leaves queued and
 * running work behind), polling `tandem_origin_in_flight_requests`; gives up quietly after `timeoutMs`.
 */
export async function waitIdle(baseUrl: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const text = await fetch(`${baseUrl}/metrics`).then(
      (r) => r.text(),
      () => '',
    );
    const line = text.split('\n').find((l) => l.startsWith('tandem_origin_in_flight_requests '));
    if (line === undefined || Number(line.slice(line.lastIndexOf(' ') + 1)) <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
