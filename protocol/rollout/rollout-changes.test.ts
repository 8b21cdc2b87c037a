import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLLBACK, promoteRollout, rollbackRollout, setRollout } from './rollout-changes.ts';
import { versionReadyPath, probeVersionOnOrigins } from './version-readiness.ts';

const expires = '2027-01-01T00:00:00.000Z';

describe('rollout changes', () => {
  it('set makes version 1, then version n+1 keeping the stable version and thresholds', () => {
    const first = setRollout(undefined, { model: 'm', weights: { '1.0.0': 100 }, expires });
    expect(first).toMatchObject({ version: 1, stable: '1.0.0', rollback: DEFAULT_ROLLBACK });
    const canary = setRollout(
      { ...first, rollback: { ...DEFAULT_ROLLBACK, minMedianConfidence: 0.4 } },
      {
        model: 'm',
        weights: { '1.1.0': 90, '1.0.0': 10 },
        expires,
        rollback: { maxErrorRate: 0.1, minSamples: undefined },
      },
    );
    expect(canary).toMatchObject({ version: 2, stable: '1.0.0', rollback: { maxErrorRate: 0.1, minMedianConfidence: 0.4, minSamples: 100 } });
  });

  it('set refuses weights that do not sum to 100 or 1, and a stable version without weight', () => {
    expect(() => setRollout(undefined, { model: 'm', weights: { '1.0.0': 60 }, expires })).toThrow(/not 100 or 1/);
    expect(() => setRollout(undefined, { model: 'm', weights: { '1.0.0': 100 }, stable: '2.0.0', expires })).toThrow(/stable/);
  });

  it('promote makes the one canary stable at 100; rollback sends everything to stable', () => {
    const record = setRollout(undefined, { model: 'm', weights: { '1.0.0': 90, '1.1.0': 10 }, expires });
    expect(promoteRollout(record, expires)).toMatchObject({ version: 2, stable: '1.1.0', weights: { '1.1.0': 100 } });
    expect(rollbackRollout(record, expires)).toMatchObject({ version: 2, stable: '1.0.0', weights: { '1.0.0': 100 } });
    expect(() => promoteRollout(rollbackRollout(record, expires), expires)).toThrow(/no canary/);
    const two = setRollout(undefined, { model: 'm', weights: { '1.0.0': 80, '1.1.0': 10, '1.2.0': 10 }, expires });
    expect(() => promoteRollout(two, expires)).toThrow(/name the version/);
    expect(promoteRollout(two, expires, '1.2.0').stable).toBe('1.2.0');
    expect(() => rollbackRollout(undefined, expires)).toThrow(/no rollout record/);
  });

  it('asks each origin for the version and says why one is not ready', async () => {
    expect(versionReadyPath('m', '1.1.0')).toBe('/v2/models/m/versions/1.1.0/ready');
    const fetch = async (url: string) => {
      if (url.startsWith('http://down')) throw new Error('connection refused');
      if (url.startsWith('http://slow')) return new Promise<Response>(() => undefined);
      if (url.startsWith('http://old')) return new Response('{}', { status: 404, headers: { 'x-tandem-error-code': 'model_not_found' } });
      return new Response('{"ready":true}');
    };
    const answers = await probeVersionOnOrigins(['http://a/', 'http://old', 'http://down', 'http://slow'], 'm', '1.1.0', { fetch, timeoutMs: 50 });
    expect(answers).toEqual([
      { origin: 'http://a/', ready: true },
      { origin: 'http://old', ready: false, reason: '404 model_not_found' },
      { origin: 'http://down', ready: false, reason: 'connection refused' },
      { origin: 'http://slow', ready: false, reason: 'no answer within 50 ms' },
    ]);
  });
});
