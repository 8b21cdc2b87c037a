import { describe, expect, it } from 'vitest';
import type { DeviceRunRecord } from '../../protocol/device-telemetry.ts';
import { DeviceTelemetryAggregate } from './aggregate.ts';
import { prometheusText } from './prometheus-text.ts';

const record = (model: string, change: Partial<DeviceRunRecord> = {}): DeviceRunRecord => ({
  model,
  version: '1.0.0',
  variant: 'int8',
  backend: 'wasm',
  latency_ms: 20_000,
  outcome: 'ok',
  fallback: false,
  ...change,
});

describe('DeviceTelemetryAggregate', () => {
  it('bounds its model series: records past the bound are counted as overflow only', () => {
    const agg = new DeviceTelemetryAggregate(2);
    expect(agg.add({ records: [record('a'), record('b'), record('c'), record('a')], dropped: 0 })).toBe(3);
    const s = agg.snapshot();
    expect(s.runs.map((r) => [r.labels.model, r.value])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(s.overflow).toBe(1);
  });

  it('keeps a latency past the last bucket in +Inf only; snapshots are copies', () => {
    const agg = new DeviceTelemetryAggregate();
    agg.add({ records: [record('a')], dropped: 0 });
    const snap = agg.snapshot();
    expect(snap.durations[0]).toMatchObject({ count: 1, sum: 20 });
    expect(snap.durations[0]!.buckets.every((b) => b === 0)).toBe(true);
    snap.runs[0]!.value = 99;
    expect(agg.snapshot().runs[0]!.value).toBe(1);
    const text = prometheusText(agg.snapshot());
    expect(text).toContain('tandem_edge_device_run_duration_seconds_bucket{model="a",version="1.0.0",variant="int8",backend="wasm",le="10"} 0');
    expect(text).toContain('tandem_edge_device_run_duration_seconds_bucket{model="a",version="1.0.0",variant="int8",backend="wasm",le="+Inf"} 1');
  });

  it('names every family by the conventions: prefix, base units, _total on counters only', () => {
    const text = prometheusText(new DeviceTelemetryAggregate().snapshot());
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(families.length).toBe(5);
    for (const [name, type] of families) {
      expect(name).toMatch(/^tandem_edge_[a-z_]+$/);
      expect(name.endsWith('_total'), name).toBe(type === 'counter');
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
  });
});
