import { describe, expect, it } from 'vitest';
import { DEFAULT_TELEMETRY, resolveConfig } from './config.ts';

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
