import { describe, expect, it } from 'vitest';
import { DEFAULT_RESULT_CACHE_MAX_BYTES, DEFAULT_RESULT_CACHE_MAX_ENTRIES, DEFAULT_TELEMETRY, resolveConfig } from './config.ts';
import { DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_MICRO_BATCH } from './runtime/contract.ts';

const base = { edge: 'https://ml.example.com', publicKeys: [] };

describe('resolveConfig: telemetry', () => {
  it('is on by default, off with false, and tunable', () => {
    expect(resolveConfig(base).telemetry).toEqual(DEFAULT_TELEMETRY);
    expect(resolveConfig({ ...base, telemetry: true }).telemetry).toEqual(DEFAULT_TELEMETRY);
    expect(resolveConfig({ ...base, telemetry: false }).telemetry).toBeUndefined();
    expect(resolveConfig({ ...base, telemetry: { maxBatch: 10 } }).telemetry).toEqual({ ...DEFAULT_TELEMETRY, maxBatch: 10 });
  });

  it('refuses bad values at creation', () => {
    for (const telemetry of ['yes', null, { maxBatch: 0 }, { maxBatch: 101 }, { maxQueue: 1.5 }, { flushIntervalMs: -1 }]) {
      expect(() => resolveConfig({ ...base, telemetry: telemetry as never }), JSON.stringify(telemetry)).toThrow(/telemetry/);
    }
  });
});

describe('resolveConfig: microBatch', () => {
  it('is on by default (32 rows, no wait), off with false, and tunable', () => {
    expect(DEFAULT_MICRO_BATCH).toEqual({ maxBatch: 32, maxDelayMs: 0 });
    expect(resolveConfig(base).microBatch).toEqual(DEFAULT_MICRO_BATCH);
    expect(resolveConfig({ ...base, microBatch: true }).microBatch).toEqual(DEFAULT_MICRO_BATCH);
    expect(resolveConfig({ ...base, microBatch: false }).microBatch).toBeUndefined();
    expect(resolveConfig({ ...base, microBatch: { maxDelayMs: 2.5 } }).microBatch).toEqual({ maxBatch: 32, maxDelayMs: 2.5 });
    expect(resolveConfig({ ...base, microBatch: { maxBatch: 2 } }).microBatch).toEqual({ maxBatch: 2, maxDelayMs: 0 });
  });

  it('refuses bad values at creation with bad_request naming the field', () => {
    for (const [microBatch, field] of [
      ['yes', 'microBatch must be'],
      [null, 'microBatch must be'],
      [{ maxBatch: 1 }, 'microBatch.maxBatch'],
      [{ maxBatch: 8.5 }, 'microBatch.maxBatch'],
      [{ maxBatch: 5000 }, 'microBatch.maxBatch'],
      [{ maxDelayMs: -1 }, 'microBatch.maxDelayMs'],
      [{ maxDelayMs: Number.NaN }, 'microBatch.maxDelayMs'],
      [{ maxDelayMs: 1001 }, 'microBatch.maxDelayMs'],
    ] as const) {
      expect(() => resolveConfig({ ...base, microBatch: microBatch as never }), JSON.stringify(microBatch)).toThrow(
        expect.objectContaining({ code: 'bad_request', message: expect.stringContaining(field) }),
      );
    }
  });
});

describe('config: memory bounds', () => {
  it('defaults: 256 MiB of weights, 1000 results, 32 MiB of results', () => {
    expect(resolveConfig(base)).toMatchObject({
      memoryBudgetBytes: DEFAULT_MEMORY_BUDGET_BYTES,
      resultCacheMaxEntries: DEFAULT_RESULT_CACHE_MAX_ENTRIES,
      resultCacheMaxBytes: DEFAULT_RESULT_CACHE_MAX_BYTES,
    });
    expect([DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_RESULT_CACHE_MAX_ENTRIES, DEFAULT_RESULT_CACHE_MAX_BYTES]).toEqual([268435456, 1000, 33554432]);
  });

  it('takes values, and rejects bad ones at createTandem with bad_request naming the field', () => {
    expect(resolveConfig({ ...base, memoryBudgetBytes: 1, resultCacheMaxEntries: 0, resultCacheMaxBytes: 0 })).toMatchObject({
      memoryBudgetBytes: 1,
      resultCacheMaxEntries: 0,
      resultCacheMaxBytes: 0,
    });
    for (const [field, value] of [
      ['memoryBudgetBytes', 0],
      ['memoryBudgetBytes', 1.5],
      ['resultCacheMaxEntries', -1],
      ['resultCacheMaxBytes', Number.NaN],
    ] as const) {
      expect(() => resolveConfig({ ...base, [field]: value }), field).toThrow(
        expect.objectContaining({ code: 'bad_request', message: expect.stringContaining(field) }),
      );
    }
  });
});
