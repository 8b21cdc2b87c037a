import { describe, expect, it } from 'vitest';
import { batchingFor, loadOriginConfig } from './config.ts';

const defaults = { repository: '/repo', trustedKeysFile: '/keys.json' };

describe('origin config', () => {
  it('has documented defaults and flags dev tokens', () => {
    const config = loadOriginConfig({}, defaults);
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      repository: '/repo',
      batching: { maxBatchSize: 64, maxQueueDelayMs: 2, maxQueueRows: 1024, concurrency: 1, dispatch: 'eager' },
      nonFinite: 'reject',
      ortSpinning: false,
      openObservability: true,
      devTokens: true,
    });
  });

  it('reads the environment, then lets flags override it', () => {
    const config = loadOriginConfig(
      { TANDEM_ORIGIN_PORT: '9001', TANDEM_ORIGIN_TOKEN: 'infer-secret', TANDEM_ADMIN_TOKEN: 'admin-secret', TANDEM_OPEN_OBSERVABILITY: 'false' },
      defaults,
      { port: 9100 },
    );
    expect(config).toMatchObject({ port: 9100, inferenceToken: 'infer-secret', openObservability: false, devTokens: false });
  });

  it('applies per-model batching overrides', () => {
    const config = loadOriginConfig({ TANDEM_MODEL_CONFIG: '{"large-classifier":{"maxBatchSize":16}}' }, defaults);
    expect(batchingFor(config, 'large-classifier').maxBatchSize).toBe(16);
    expect(batchingFor(config, 'mlp-classifier').maxBatchSize).toBe(64);
  });

  it.each([
    [{ TANDEM_ORIGIN_PORT: 'eighty' }, /port/],
    [{ TANDEM_MAX_BATCH_SIZE: '0' }, /batching.maxBatchSize/],
    [{ TANDEM_ORIGIN_TOKEN: 'short' }, /inferenceToken: tokens must be at least 8/],
    [{ TANDEM_OPEN_OBSERVABILITY: 'maybe' }, /boolean/],
    [{ TANDEM_MODEL_CONFIG: '{' }, /TANDEM_MODEL_CONFIG is not JSON/],
    [{ TANDEM_MODEL_CONFIG: '{"m":{"maxBatchSize":"x"}}' }, /models.m.maxBatchSize/],
    [{ TANDEM_NON_FINITE: 'clamp' }, /nonFinite/],
  ])('rejects %j at start', (env, message) => {
    expect(() => loadOriginConfig(env, defaults)).toThrowError(message);
  });
});
