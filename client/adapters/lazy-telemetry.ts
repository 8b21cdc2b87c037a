/**
 * Device-run telemetry for the page, loaded when the first device run is reported: its batching,
 * records and transport (telemetry-transport.ts) are a chunk of their own, as the OIP codec is, so the
 * main-thread SDK the page waits for stays within its budget (client/bundle-size.test.ts).
 */
import type { DeviceRun, TelemetryOptions } from '../core/telemetry.ts';
import type { TelemetryTransportDeps } from './telemetry-transport.ts';
import { loadOnce } from '../core/load-once.ts';

export interface DeviceRunReporter {
  /** Reports one device run. Never throws; a chunk that fails to load loses the run (and is tried again next time). */
  record(run: DeviceRun): void;
  /** Sends what waits and stops (`tandem.dispose()`). */
  close(): void;
  /**
   * Starts loading the chunk now, for a model that may run on the device: loaded at the first run instead,
   * a page left right after that run would lose its record before the chunk arrived.
   */
  prepare(): void;
}

/**
 * @example
 * const telemetry = lazyTelemetry(cfg.telemetry, { edge, fetch, headers });
 * createModel(state, { ...deps, telemetry: telemetry.record });
 */
export function lazyTelemetry(options: TelemetryOptions, deps: TelemetryTransportDeps): DeviceRunReporter {
  const transport = loadOnce(() => import('./telemetry-transport.ts').then((m) => m.startTelemetry(options, deps)));
  let started = false;
  const start = () => {
    started = true;
    return transport();
  };
  return {
    record(run) {
      start().then(
        (t) => t.record(run),
        () => {},
      );
    },
    prepare() {
      start().catch(() => {});
    },
    close() {
      // A page that never recorded loads nothing to close.
      if (started)
        transport().then(
          (t) => t.close(),
          () => {},
        );
    },
  };
}
