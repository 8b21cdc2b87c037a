import { describe, expect, it } from 'vitest';
import { TELEMETRY_LIMITS, type TelemetryBatch } from '../../protocol/device-telemetry.ts';
import { parseTelemetryBatch } from '../../protocol/telemetry-batch-reader.ts';
import { deviceRunRecord } from '../core/telemetry.ts';
import { telemetryTransport } from './telemetry-transport.ts';

const int8 = { name: 'int8', outputs: [{ name: 'logits', dtype: 'float32' as const, shape: [-1, 2] }] };
const manifest = { id: 'mlp-classifier', version: '1.0.0-' + 'x'.repeat(400), task: 'classification' as const };

function capture(status = 204) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(null, { status });
  }) as unknown as typeof globalThis.fetch;
  return { calls, send: telemetryTransport({ edge: 'https://edge.test', fetch, headers: async () => ({ authorization: 'Bearer k', 'x-client-id': 'c' }) }) };
}

describe('telemetryTransport', () => {
  it('posts JSON with keepalive and the edge headers', async () => {
    const { calls, send } = capture();
    const batch: TelemetryBatch = {
      records: [deviceRunRecord({ manifest: { ...manifest, version: '1.0.0' }, variant: int8, backend: 'wasm', latencyMs: 2, outcome: 'ok', fallback: false })],
      dropped: 1,
    };
    await send(batch, true);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('https://edge.test/v1/telemetry');
    expect(calls[0]!.init).toMatchObject({ method: 'POST', keepalive: true, headers: { authorization: 'Bearer k', 'content-type': 'application/json' } });
    expect(parseTelemetryBatch(JSON.parse(calls[0]!.init.body as string))).toEqual(batch);
  });

  it('splits a body over the limit so every request fits, the drop count sent once', async () => {
    const { calls, send } = capture();
    const records = Array.from({ length: 100 }, (_, i) =>
      deviceRunRecord({ manifest, variant: int8, backend: 'wasm', latencyMs: i, outcome: 'ok', fallback: false }),
    );
    expect(JSON.stringify({ records, dropped: 7 }).length).toBeGreaterThan(TELEMETRY_LIMITS.maxBodyBytes);
    await send({ records, dropped: 7 }, false);
    expect(calls.length).toBeGreaterThan(1);
    const bodies = calls.map((c) => JSON.parse(c.init.body as string) as TelemetryBatch);
    for (const c of calls) expect((c.init.body as string).length).toBeLessThanOrEqual(TELEMETRY_LIMITS.maxBodyBytes);
    expect(bodies.flatMap((b) => b.records.map((r) => r.latency_ms))).toEqual(records.map((r) => r.latency_ms));
    expect(bodies.reduce((n, b) => n + b.dropped, 0)).toBe(7);
  });

  it('rejects on a refusal, so the batch counts as dropped', async () => {
    const { send } = capture(429);
    await expect(send({ records: [], dropped: 1 }, false)).rejects.toThrow(/429/);
  });
});
