import { describe, expect, it } from 'vitest';
import { TandemError } from './errors.ts';
import { CONFIDENCE_BUCKETS, confidenceBucket, TELEMETRY_LIMITS, topClassConfidences, type DeviceRunRecord } from './device-telemetry.ts';
import { parseTelemetryBatch } from './telemetry-batch-reader.ts';

const record: DeviceRunRecord = {
  model: 'mlp-classifier',
  version: '1.0.0',
  variant: 'int8',
  backend: 'wasm',
  latency_ms: 3.5,
  outcome: 'ok',
  fallback: false,
  confidence_le: 0.95,
};

function refusal(body: unknown): string {
  try {
    parseTelemetryBatch(body);
  } catch (err) {
    expect(err).toBeInstanceOf(TandemError);
    expect((err as TandemError).code).toBe('bad_request');
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('parseTelemetryBatch', () => {
  it('accepts a well-formed batch as it is', () => {
    expect(parseTelemetryBatch({ records: [record], dropped: 2 })).toEqual({ records: [record], dropped: 2 });
    expect(parseTelemetryBatch({ records: [], dropped: TELEMETRY_LIMITS.maxDropped }).dropped).toBe(TELEMETRY_LIMITS.maxDropped);
    const { confidence_le: _, ...failed } = record;
    expect(parseTelemetryBatch({ records: [{ ...failed, outcome: 'inference_failed', fallback: true }] }).dropped).toBe(0);
  });

  it('refuses every malformed field, naming it without echoing the value', () => {
    expect(refusal(null)).toMatch(/body must be a JSON object/);
    expect(refusal([])).toMatch(/body must be a JSON object/);
    expect(refusal({ records: [], extra: 1 })).toMatch(/unknown field/);
    expect(refusal({ records: 'x' })).toMatch(/records must be an array/);
    expect(refusal({ records: [], dropped: -1 })).toMatch(/dropped/);
    expect(refusal({ records: [], dropped: 1.5 })).toMatch(/dropped/);
    expect(refusal({ records: [], dropped: Number.MAX_SAFE_INTEGER })).toMatch(/dropped must be a whole number from 0 to 1000000/);
    expect(refusal({ records: [], dropped: TELEMETRY_LIMITS.maxDropped + 1 })).toMatch(/dropped/);
    expect(refusal({ records: Array(TELEMETRY_LIMITS.maxRecords + 1).fill(record) })).toMatch(/more than 100/);
    const cases: [Partial<Record<keyof DeviceRunRecord | 'inputs', unknown>>, RegExp][] = [
      [{ model: 'Bad Model\n' }, /records\[0\]\.model/],
      [{ version: 'latest' }, /records\[0\]\.version/],
      [{ variant: '' }, /records\[0\]\.variant/],
      [{ backend: 'cuda' }, /records\[0\]\.backend/],
      [{ latency_ms: -1 }, /latency_ms/],
      [{ latency_ms: Number.NaN }, /latency_ms/],
      [{ latency_ms: '3' }, /latency_ms/],
      [{ outcome: 'exploded' }, /outcome/],
      [{ outcome: 'toString' }, /outcome/],
      [{ fallback: 'no' }, /fallback/],
      [{ confidence_le: 0.93 }, /confidence_le/],
      [{ inputs: [1, 2, 3] }, /unknown field/],
    ];
    for (const [change, message] of cases) {
      const text = refusal({ records: [{ ...record, ...change }] });
      expect(text, JSON.stringify(change)).toMatch(message);
      expect(text).not.toContain('Bad Model');
    }
  });
});

describe('confidenceBucket', () => {
  it("gives the smallest bucket bound at or above the confidence, the origin histogram's buckets", () => {
    expect(confidenceBucket(0)).toBe(0.1);
    expect(confidenceBucket(0.1)).toBe(0.1);
    expect(confidenceBucket(0.93)).toBe(0.95);
    expect(confidenceBucket(0.995)).toBe(1);
    expect(confidenceBucket(1)).toBe(1);
    expect(confidenceBucket(Number.NaN)).toBeUndefined();
    expect(confidenceBucket(1.5)).toBeUndefined();
    expect(CONFIDENCE_BUCKETS.at(-1)).toBe(1);
  });
});

describe('topClassConfidences', () => {
  it('is the softmax maximum per row, leaving out rows without one', () => {
    const c = topClassConfidences(new Float32Array([0, 0, Math.log(2), 5, 5, 5, Number.NaN, 0, 0]), 3);
    expect(c.length).toBe(2);
    expect(c[0]).toBeCloseTo(0.5, 6);
    expect(c[1]).toBeCloseTo(1 / 3, 6);
  });
});
