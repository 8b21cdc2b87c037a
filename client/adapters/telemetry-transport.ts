/**
 * How telemetry batches leave the page: `POST {edge}/v1/telemetry` with `fetch` and `keepalive: true`, so
 * a batch sent from `pagehide` outlives the page. Not `navigator.sendBeacon`: a beacon cannot carry the
 * `Authorization` header the edge's route requires (the same API key as inference), and keepalive fetch is
 * the beacon's replacement where headers are needed (a cross-origin edge means a CORS preflight, which
 * keepalive requests get in current browsers; Chrome before 81 refused it, and such a batch is lost, counted
 * as dropped). Browsers allow 64 KiB of keepalive bodies in flight,
 * so a body over the protocol's limit is split in halves until each fits.
 *
 * `startTelemetry` wires the batching policy (core/telemetry.ts) to it and to the page's lifecycle: what
 * waits is sent when the page is hidden (`visibilitychange` to hidden, `pagehide`), the last moments a page
 * is sure to get on mobile browsers.
 */
import { TELEMETRY_LIMITS, type TelemetryBatch } from '../../protocol/device-telemetry.ts';
import { createTelemetry, deviceRunRecord, type DeviceRun, type Telemetry, type TelemetryOptions } from '../core/telemetry.ts';

export interface TelemetryTransportDeps {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  fetch: typeof fetch;
  /** The edge request headers (API key, client id). */
  headers: () => Promise<Record<string, string>>;
}

/**
 * @example
 * const send = telemetryTransport({ edge, fetch, headers });
 * await send({ records, dropped: 0 }, false);
 */
export function telemetryTransport(deps: TelemetryTransportDeps): (batch: TelemetryBatch, final: boolean) => Promise<void> {
  const post = async (batch: TelemetryBatch): Promise<void> => {
    const body = JSON.stringify(batch);
    if (body.length > TELEMETRY_LIMITS.maxBodyBytes && batch.records.length > 1) {
      const half = Math.ceil(batch.records.length / 2);
      await Promise.all([post({ records: batch.records.slice(0, half), dropped: batch.dropped }), post({ records: batch.records.slice(half), dropped: 0 })]);
      return;
    }
    const res = await deps.fetch(`${deps.edge}/v1/telemetry`, {
      method: 'POST',
      keepalive: true,
      headers: { ...(await deps.headers()), 'content-type': 'application/json' },
      body,
    });
    if (!res.ok) throw new Error(`telemetry: HTTP ${res.status}`);
  };
  return (batch) => post(batch);
}

/** A running telemetry: device runs in, batches out. */
export interface RunTelemetry {
  record(run: DeviceRun): void;
  /** Sends what waits (page hide, `tandem.dispose()`), then stops. */
  close(): void;
  telemetry: Telemetry;
}

/**
 * @example
 * const running = startTelemetry(cfg.telemetry, { edge, fetch, headers });
 * running.record({ manifest, variant, backend: 'wasm', latencyMs: 3.2, outcome: 'ok', fallback: false, outputs });
 */
export function startTelemetry(options: TelemetryOptions, deps: TelemetryTransportDeps): RunTelemetry {
  const telemetry = createTelemetry(options, { send: telemetryTransport(deps) });
  const hidden = () => {
    if (typeof document === 'undefined' || document.visibilityState === 'hidden') void telemetry.flush(true);
  };
  const listening = typeof addEventListener === 'function';
  if (listening) {
    addEventListener('pagehide', hidden);
    addEventListener('visibilitychange', hidden);
  }
  return {
    telemetry,
    record: (run) => telemetry.record(deviceRunRecord(run)),
    close() {
      if (listening) {
        removeEventListener('pagehide', hidden);
        removeEventListener('visibilitychange', hidden);
      }
      void telemetry.flush(true); // Takes what waits at once; the send is not awaited.
      telemetry.dispose();
    },
  };
}
