import { describe, expect, it } from 'vitest';
import { TELEMETRY_LIMITS, type DeviceRunRecord, type TelemetryBatch } from '../../protocol/device-telemetry.ts';
import { createTelemetry, deviceRunRecord, type TelemetryOptions } from './telemetry.ts';

const int8 = { name: 'int8', outputs: [{ name: 'logits', dtype: 'float32' as const, shape: [-1, 2] }] };
const manifest = { id: 'mlp-classifier', version: '1.0.0', task: 'classification' as const };
const run = (latency: number): DeviceRunRecord =>
  deviceRunRecord({ manifest, variant: int8, backend: 'wasm', latencyMs: latency, outcome: 'ok', fallback: false });

function harness(options: Partial<TelemetryOptions> = {}, fail = false) {
  const sent: { batch: TelemetryBatch; final: boolean }[] = [];
  const timers: { callback: () => void; ms: number; cleared: boolean }[] = [];
  const telemetry = createTelemetry(
    { maxBatch: 3, maxQueue: 5, flushIntervalMs: 1000, ...options },
    {
      send: async (batch, final) => {
        sent.push({ batch, final });
        if (fail) throw new Error('offline');
      },
      setTimer: (callback, ms) => {
        const t = { callback, ms, cleared: false };
        timers.push(t);
        return t;
      },
      clearTimer: (t) => void ((t as { cleared: boolean }).cleared = true),
    },
  );
  const fire = async () => {
    const live = timers.filter((t) => !t.cleared);
    expect(live).toHaveLength(1);
    live[0]!.cleared = true;
    live[0]!.callback();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { telemetry, sent, timers, fire };
}

describe('createTelemetry', () => {
  it('sends a batch when it is full, and the rest when the interval passes', async () => {
    const { telemetry, sent, timers, fire } = harness();
    for (let i = 0; i < 4; i++) telemetry.record(run(i));
    await Promise.resolve();
    expect(sent.map((s) => s.batch.records.map((r) => r.latency_ms))).toEqual([[0, 1, 2]]);
    expect(timers.filter((t) => !t.cleared)).toHaveLength(1);
    expect(timers.at(-1)!.ms).toBe(1000);
    await fire();
    expect(sent.map((s) => s.batch.records.length)).toEqual([3, 1]);
    expect(sent.every((s) => !s.final)).toBe(true);
    expect(telemetry.counts()).toEqual({ queued: 0, sent: 4, dropped: 0 });
    expect(timers.filter((t) => !t.cleared)).toHaveLength(0);
  });

  it('drops the oldest past maxQueue, counts the drops and tells the edge with the next batch', async () => {
    const { telemetry, sent } = harness({ maxBatch: 100, maxQueue: 5 });
    for (let i = 0; i < 8; i++) telemetry.record(run(i));
    expect(telemetry.counts()).toEqual({ queued: 5, sent: 0, dropped: 3 });
    await telemetry.flush();
    expect(sent[0]!.batch).toEqual({ records: [3, 4, 5, 6, 7].map(run), dropped: 3 });
    await telemetry.flush(true);
    expect(sent).toHaveLength(1); // nothing left to say
  });

  it('on page hide sends what waits, marked final, even a lone drop count', async () => {
    const { telemetry, sent } = harness({ maxBatch: 2, maxQueue: 10 });
    for (let i = 0; i < 5; i++) telemetry.record(run(i));
    await telemetry.flush(true);
    expect(sent.map((s) => [s.batch.records.length, s.final])).toEqual([
      [2, false],
      [2, false],
      [1, true],
    ]);
    expect(telemetry.counts().queued).toBe(0);
    const lone = harness({ maxBatch: 100, maxQueue: 1 }, true);
    lone.telemetry.record(run(1));
    lone.telemetry.record(run(2)); // drops run(1)
    await lone.telemetry.flush(true); // fails: run(2) lost too
    await lone.telemetry.flush(true);
    expect(lone.sent.map((s) => [s.batch.records.length, s.batch.dropped])).toEqual([
      [1, 1],
      [0, 2],
    ]);
  });

  it('tells the edge at most maxDropped drops a batch (the edge refuses more), and the rest with the next', async () => {
    const { telemetry, sent } = harness({ maxBatch: 100, maxQueue: 1 });
    const record = run(1);
    for (let i = 0; i < TELEMETRY_LIMITS.maxDropped + 6; i++) telemetry.record(record);
    await telemetry.flush();
    telemetry.record(record);
    await telemetry.flush();
    expect(sent.map((s) => s.batch.dropped)).toEqual([TELEMETRY_LIMITS.maxDropped, 5]);
  });

  it('never throws or retries: a failed batch counts as dropped and is reported with the next one', async () => {
    const { telemetry, sent } = harness({}, true);
    telemetry.record(run(1));
    await expect(telemetry.flush()).resolves.toBeUndefined();
    expect(telemetry.counts()).toEqual({ queued: 0, sent: 0, dropped: 1 });
    telemetry.record(run(2));
    await telemetry.flush();
    expect(sent.map((s) => [s.batch.records.length, s.batch.dropped])).toEqual([
      [1, 0],
      [1, 1],
    ]);
  });

  it('records nothing once disposed', async () => {
    const { telemetry, sent } = harness();
    telemetry.record(run(1));
    telemetry.dispose();
    telemetry.record(run(2));
    await telemetry.flush(true);
    expect(sent).toEqual([]);
    expect(telemetry.counts()).toEqual({ queued: 0, sent: 0, dropped: 1 });
  });
});

describe('deviceRunRecord', () => {
  it("describes the run, never its data: the first row's top-class confidence as a bucket", () => {
    const logits = new Float32Array([Math.log(17 / 3), 0, 0.5, 0.5]); // row 0: 0.85, in the bucket up to 0.9
    const r = deviceRunRecord({
      manifest,
      variant: int8,
      backend: 'webgpu',
      latencyMs: 3.14259,
      outcome: 'ok',
      fallback: true,
      outputs: { logits: { dtype: 'float32', dims: [2, 2], data: logits } },
    });
    expect(r).toEqual({
      model: 'mlp-classifier',
      version: '1.0.0',
      variant: 'int8',
      backend: 'webgpu',
      latency_ms: 3.14,
      outcome: 'ok',
      fallback: true,
      confidence_le: 0.9,
    });
    expect(JSON.stringify(r)).not.toContain('2.19');
  });

  it('has no confidence for other tasks or a failed run', () => {
    const out = { y: { dtype: 'float32' as const, dims: [1, 2], data: new Float32Array([1, 2]) } };
    expect(
      deviceRunRecord({
        manifest: { ...manifest, task: 'regression' } as never,
        variant: { ...int8, outputs: [{ ...int8.outputs[0]!, name: 'y' }] },
        backend: 'wasm',
        latencyMs: 1,
        outcome: 'ok',
        fallback: false,
        outputs: out,
      }).confidence_le,
    ).toBeUndefined();
    expect(
      deviceRunRecord({ manifest, variant: int8, backend: 'wasm', latencyMs: 1, outcome: 'inference_failed', fallback: false }).confidence_le,
    ).toBeUndefined();
    expect(deviceRunRecord({ manifest, variant: int8, backend: 'wasm', latencyMs: -5, outcome: 'ok', fallback: false }).latency_ms).toBe(0);
  });
});
