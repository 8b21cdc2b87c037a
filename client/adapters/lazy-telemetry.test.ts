import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceRun } from '../core/telemetry.ts';
import { lazyTelemetry } from './lazy-telemetry.ts';

const transport = { record: vi.fn(), close: vi.fn(), telemetry: {} };
const startTelemetry = vi.fn(() => transport);
vi.mock('./telemetry-transport.ts', () => ({ startTelemetry: (...args: unknown[]) => startTelemetry(...(args as [])) }));

const options = { maxBatch: 50, maxQueue: 500, flushIntervalMs: 30_000 };
const deps = { edge: 'http://127.0.0.1:1', fetch: vi.fn() as unknown as typeof fetch, headers: async () => ({}) };

beforeEach(() => {
  startTelemetry.mockClear();
  transport.record.mockClear();
  transport.close.mockClear();
});

describe('lazyTelemetry', () => {
  it('a page that never runs on the device loads nothing, even to close', async () => {
    lazyTelemetry(options, deps).close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(startTelemetry).not.toHaveBeenCalled();
  });

  it('prepare loads the chunk before any run, once; records and close go to that one transport', async () => {
    const reporter = lazyTelemetry(options, deps);
    reporter.prepare();
    await vi.waitFor(() => expect(startTelemetry).toHaveBeenCalledTimes(1));
    reporter.record({ outcome: 'ok' } as unknown as DeviceRun);
    reporter.prepare();
    await vi.waitFor(() => expect(transport.record).toHaveBeenCalledTimes(1));
    reporter.close();
    await vi.waitFor(() => expect(transport.close).toHaveBeenCalledTimes(1));
    expect(startTelemetry).toHaveBeenCalledTimes(1);
  });
});
