import { describe, expect, it } from 'vitest';
import type { DeviceRunRecord } from '../../protocol/device-telemetry.ts';
import { DeviceTelemetryAggregate, OTHER_VARIANT } from './aggregate.ts';
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
  it('bounds its model versions: records of versions past the bound are counted as overflow only', () => {
    const agg = new DeviceTelemetryAggregate({ versions: 2 });
    expect(agg.add({ records: [record('a'), record('b'), record('c'), record('a')], dropped: 0 })).toBe(3);
    const s = agg.snapshot();
    expect(s.runs.map((r) => [r.labels.model, r.value])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(s.overflow).toBe(1);
  });

  it('counts variants past the bound per version, or in all, under _other: every run of a served version is counted', () => {
    const agg = new DeviceTelemetryAggregate({ variantsPerVersion: 2, namedSeries: 3 });
    const variants = (model: string, names: string[]) => names.map((variant) => record(model, { variant }));
    expect(agg.add({ records: [...variants('a', ['x', 'y', 'z', 'w', 'x']), ...variants('b', ['p', 'q'])], dropped: 0 })).toBe(7);
    const runs = agg.snapshot().runs.map((r) => [r.labels.model, r.labels.variant, r.value]);
    expect(runs).toEqual([
      ['a', 'x', 2],
      ['a', 'y', 1],
      ['a', OTHER_VARIANT, 2], // z and w: past a's two names
      ['b', 'p', 1],
      ['b', OTHER_VARIANT, 1], // q: past the three named series in all
    ]);
    expect(agg.snapshot().overflow).toBe(0);
  });

  it('counts records of versions the edge does not serve in unknown only', () => {
    const agg = new DeviceTelemetryAggregate();
    expect(agg.add({ records: [record('a')], dropped: 2 }, 5)).toBe(1);
    agg.add({ records: [], dropped: 0 }, 1);
    expect(agg.snapshot()).toMatchObject({ unknown: 6, dropped: 2, overflow: 0 });
    expect(prometheusText(agg.snapshot())).toMatch(/^tandem_edge_device_telemetry_unknown_records_total 6$/m);
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
    expect(families.length).toBe(6);
    for (const [name, type] of families) {
      expect(name).toMatch(/^tandem_edge_[a-z_]+$/);
      expect(name.endsWith('_total'), name).toBe(type === 'counter');
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
  });
});
