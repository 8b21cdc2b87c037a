import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../protocol/keys.ts';
import { DEFAULT_TUNING, loadEdgeConfig, parseOrigins, parseTuning } from './config.ts';

describe('edge config', () => {
  it('reads origins as JSON or a comma list', () => {
    expect(parseOrigins('["http://a:1/", "https://b"]')).toEqual(['http://a:1', 'https://b']);
    expect(parseOrigins('http://a:1, http://b:2')).toEqual(['http://a:1', 'http://b:2']);
    expect(() => parseOrigins('ftp://x')).toThrow(/ORIGINS/);
    // Credentials, a query or a fragment would end up in logs or swallow the proxied path.
    for (const odd of ['http://ops:s3cret@a:1', 'http://a:1?x=', 'http://a:1#x', 'http://a:1/path']) {
      expect(() => parseOrigins(JSON.stringify([odd])), odd).toThrow(/ORIGINS/);
    }
  });

  it('overrides tuning fields and rejects unknown ones', () => {
    expect(parseTuning({ maxAttempts: 5 })).toEqual({ ...DEFAULT_TUNING, maxAttempts: 5 });
    expect(() => parseTuning({ retries: 5 })).toThrow(/unknown field/);
    expect(() => parseTuning({ maxAttempts: 0 })).toThrow(/at least 1/);
    expect(() => parseTuning({ rateLimitLeaseTokens: 0 })).toThrow(/rateLimitLeaseTokens/);
  });

  it('loads a whole config and names the var at fault', async () => {
    const key = await generateSigningKey();
    const config = await loadEdgeConfig({ ORIGINS: 'http://127.0.0.1:1', TRUSTED_KEYS: JSON.stringify([key.publicKey]), CANARY: '{"m":{"1.0.0":1}}' });
    expect(config.trustedKeys.keys.has(key.keyid)).toBe(true);
    expect(config.requireKeyForCatalog).toBe(false);
    await expect(loadEdgeConfig({ TRUSTED_KEYS: '{' })).rejects.toThrow(/TRUSTED_KEYS/);
    expect(config.rootKeys.keys.size).toBe(0);
    expect((await loadEdgeConfig({ ROOT_KEYS: JSON.stringify({ keys: [key.publicKey] }) })).rootKeys.keys.has(key.keyid)).toBe(true);
    await expect(loadEdgeConfig({ ROOT_KEYS: '[{"keyid":"nope"}]' })).rejects.toThrow(/edge config ROOT_KEYS/);
    await expect(loadEdgeConfig({ CANARY: '{"m":{"1":-1}}' })).rejects.toThrow(/CANARY/);
    await expect(loadEdgeConfig({ TUNING: '{"x":1}' })).rejects.toThrow(/TUNING/);
  });
});
