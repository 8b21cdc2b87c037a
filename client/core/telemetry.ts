/**
 * Device-run telemetry: device runs are most of the traffic and the edge never sees them, so the SDK
 * reports each one (protocol/device-telemetry.ts: model, version, variant, backend, latency, outcome code,
 * fallback, top-class confidence bucket; never inputs or outputs) in batches to the edge's
 * `POST /v1/telemetry`, where a canary and the drift signals count them beside the origin's runs.
 *
 * The batching policy is pure and lives here: a batch leaves when `maxBatch` records wait or
 * `flushIntervalMs` after the first of them, and everything leaves on page hide (`flush(true)`). The queue
 * is bounded: past `maxQueue` the oldest record is dropped and counted, and the count travels with the next
 * batch (`dropped`), as do records whose send failed: telemetry is never retried, never blocks a run and
 * never throws into the app. The transport is injected (client/adapters/telemetry-transport.ts).
 */
import { confidenceBucket, TELEMETRY_LIMITS, topClassConfidences, type DeviceRunRecord, type TelemetryBatch } from '../../protocol/device-telemetry.ts';
import type { Manifest, ManifestVariant } from '../../protocol/manifest.ts';
import type { Tensor } from '../../protocol/tensor.ts';

/** How telemetry batches. Every field has a default; `createTandem({ telemetry: false })` turns it off. */
export interface TelemetryOptions {
  /** Records per batch; a full batch is sent at once. Default 50, at most 100. */
  maxBatch: number;
  /** Records kept waiting at most; past it the oldest is dropped (and counted). Default 500. */
  maxQueue: number;
  /** How long a record waits for its batch to fill, ms. Default 30000. */
  flushIntervalMs: number;
}

export interface TelemetryDeps {
  /**
   * Sends one batch. `final` is true on page hide: the page may be gone before an answer comes, so the
   * request must outlive it (`fetch` with `keepalive`). A rejection counts the batch's records as dropped.
   */
  send: (batch: TelemetryBatch, final: boolean) => Promise<void>;
  /** Default `setTimeout`. */
  setTimer?: (callback: () => void, ms: number) => unknown;
  /** Default `clearTimeout`. */
  clearTimer?: (timer: unknown) => void;
}

export interface TelemetryCounts {
  /** Records waiting. */
  queued: number;
  /** Records sent in batches the edge accepted. */
  sent: number;
  /** Records lost: dropped from a full queue, or in a batch whose send failed. */
  dropped: number;
}

export interface Telemetry {
  /** Queues one device run's record. Never throws. */
  record(record: DeviceRunRecord): void;
  /** Sends what waits (one batch, or every batch when `final`). Never rejects. */
  flush(final?: boolean): Promise<void>;
  counts(): TelemetryCounts;
  /** Stops the timer; records still waiting are dropped. */
  dispose(): void;
}

/**
 * @example
 * const telemetry = createTelemetry({ maxBatch: 50, maxQueue: 500, flushIntervalMs: 30_000 }, { send: telemetryTransport(deps) });
 * telemetry.record(deviceRunRecord(run));
 * addEventListener('pagehide', () => void telemetry.flush(true));
 */
export function createTelemetry(options: TelemetryOptions, deps: TelemetryDeps): Telemetry {
  const maxBatch = Math.min(options.maxBatch, TELEMETRY_LIMITS.maxRecords);
  const setTimer =
    deps.setTimer ??
    ((callback: () => void, ms: number) => {
      const timer = setTimeout(callback, ms);
      (timer as { unref?: () => void }).unref?.(); // In Node (tests, SSR), waiting telemetry keeps no process alive.
      return timer;
    });
  const clearTimer = deps.clearTimer ?? ((timer: unknown) => clearTimeout(timer as ReturnType<typeof setTimeout>));
  let queue: DeviceRunRecord[] = [];
  let timer: unknown;
  let unreported = 0; // Drops not yet told to the edge.
  const counts = { sent: 0, dropped: 0 };
  let disposed = false;

  const stopTimer = () => {
    if (timer !== undefined) clearTimer(timer);
    timer = undefined;
  };

  const sendOne = async (final: boolean): Promise<void> => {
    const records = queue.splice(0, maxBatch);
    // The edge refuses more than maxDropped a batch: the rest waits for the next one.
    const batch: TelemetryBatch = { records, dropped: Math.min(unreported, TELEMETRY_LIMITS.maxDropped) };
    unreported -= batch.dropped;
    try {
      await deps.send(batch, final);
      counts.sent += records.length;
    } catch {
      counts.dropped += records.length;
      unreported += batch.dropped + records.length;
    }
  };

  const flush = async (final = false): Promise<void> => {
    stopTimer();
    if (disposed) return;
    const sends: Promise<void>[] = [];
    if (queue.length > 0 || (final && unreported > 0)) sends.push(sendOne(final));
    while (queue.length > 0 && (final || queue.length >= maxBatch)) sends.push(sendOne(final));
    await Promise.all(sends);
    if (queue.length > 0 && timer === undefined) timer = setTimer(() => void flush(), options.flushIntervalMs);
  };

  return {
    record(record) {
      if (disposed) return;
      queue.push(record);
      if (queue.length > options.maxQueue) {
        queue.shift();
        counts.dropped++;
        unreported++;
      }
      if (queue.length >= maxBatch) void flush();
      else timer ??= setTimer(() => void flush(), options.flushIntervalMs);
    },
    flush,
    counts: () => ({ queued: queue.length, ...counts }),
    dispose() {
      disposed = true;
      stopTimer();
      counts.dropped += queue.length;
      queue = [];
    },
  };
}

/** A device run as the model reports it (client/model.ts); `deviceRunRecord` makes its record. */
export interface DeviceRun {
  manifest: Pick<Manifest, 'id' | 'version' | 'task'>;
  variant: Pick<ManifestVariant, 'name' | 'outputs'>;
  backend: DeviceRunRecord['backend'];
  latencyMs: number;
  outcome: DeviceRunRecord['outcome'];
  /** The device ran as the origin's fallback. */
  fallback: boolean;
  outputs?: Record<string, Tensor> | undefined;
}

/**
 * The record of one device run. The confidence is the top class's softmax probability in the first row of
 * the variant's first output, read as logits as the origin reads it (classification models with float32
 * logits only), reduced to its bucket.
 * @example
 * deviceRunRecord({ manifest, variant: decision.variant, backend: 'wasm', latencyMs: 3.2, outcome: 'ok', fallback: false, outputs });
 */
export function deviceRunRecord(run: DeviceRun): DeviceRunRecord {
  const { manifest, variant, backend, latencyMs, outcome, fallback, outputs } = run;
  const record: DeviceRunRecord = {
    model: manifest.id,
    version: manifest.version,
    variant: variant.name,
    backend,
    latency_ms: Math.min(Math.max(0, Math.round(latencyMs * 100) / 100), TELEMETRY_LIMITS.maxLatencyMs),
    outcome,
    fallback,
  };
  const first = outputs?.[variant.outputs[0]?.name ?? ''];
  if (manifest.task === 'classification' && first?.dtype === 'float32') {
    const classes = first.dims.at(-1) ?? 0;
    const [confidence] = topClassConfidences((first.data as Float32Array).subarray(0, classes), classes);
    const le = confidence === undefined ? undefined : confidenceBucket(confidence);
    if (le !== undefined) record.confidence_le = le;
  }
  return record;
}
