/**
 * API-key guessing (issue 18, item 10): 600 wrong keys in a burst used to get 600 × 401. Now an address
 * gets `authFailureLimit` of them, then 429 `rate_limited` with Retry-After for any key, while other
 * addresses are served as before.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../app.ts';
import { apiKeysVar, fetchApp, KEYS, testEnv } from '../test-support.ts';
import { FailedKeyThrottle, UNKNOWN_ADDRESS, clientAddress, failureBucket } from './failed-keys.ts';

const app = createApp({ log: { write: () => undefined } });
let vars: Env;

beforeAll(async () => {
  vars = testEnv({
    API_KEYS: await apiKeysVar(),
    REQUIRE_KEY_FOR_CATALOG: 'true',
    TUNING: JSON.stringify({ authFailureLimit: 20, authFailureWindowMs: 60_000 }),
  });
});

afterEach(() => vi.restoreAllMocks());

const catalog = (key: string, address?: string, environment = vars) =>
  fetchApp(app, '/v1/models', { headers: { authorization: `Bearer ${key}`, ...(address ? { 'cf-connecting-ip': address } : {}) } }, environment);

describe('failed API keys', () => {
  it('throttles 600 wrong keys from one address after the limit, with the documented body and Retry-After', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 600; i++) {
      const res = await catalog(`guess-${i}`, '203.0.113.7');
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
      else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 20)).toEqual(new Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(new Array(580).fill(429));
    const body = (await limited!.json()) as { error: { code: string; message: string; request_id: string } };
    expect(body.error).toMatchObject({ code: 'rate_limited', request_id: limited!.headers.get('x-request-id') });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // A right key from that address waits too (else a lucky guess would get through at full speed)...
    expect((await catalog(KEYS.catalog, '203.0.113.7')).status).toBe(429);
    // ...while other addresses are served as before.
    expect((await catalog(KEYS.catalog, '198.51.100.1')).status).toBe(200);
    expect((await catalog('one-wrong-key', '198.51.100.1')).status).toBe(401);
  });

  it('lets an address try again once its allowance refills', async () => {
    const quick = { ...vars, TUNING: JSON.stringify({ authFailureLimit: 2, authFailureWindowMs: 1000 }) } as Env;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await catalog(`wrong-${i}`, '192.0.2.55', quick)).status);
    expect(statuses).toEqual([401, 401, 429, 429]);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await catalog(KEYS.catalog, '192.0.2.55', quick)).status).toBe(200);
  });

  it('counts requests without CF-Connecting-IP (development) as one address', () => {
    expect(clientAddress(new Headers())).toBe(UNKNOWN_ADDRESS);
    expect(clientAddress(new Headers({ 'cf-connecting-ip': ' 2001:db8::1 ' }))).toBe('2001:db8::1');
  });
});

describe('FailedKeyThrottle', () => {
  it("blocks an address for the bucket's Retry-After once a failure gets no token, and not before", async () => {
    const throttle = new FailedKeyThrottle();
    const limits = { limit: 3, windowMs: 30_000 };
    expect(failureBucket(limits)).toEqual({ burst: 3, ratePerSecond: 0.1 });
    let tokens = 1;
    const grant = async () =>
      tokens > 0 ? (tokens--, { granted: 1, remaining: tokens, retryAfterSeconds: 0 }) : { granted: 0, remaining: 0, retryAfterSeconds: 7 };
    expect(await throttle.recordFailure('a', 1000, limits, grant)).toBe(0);
    expect(throttle.blockedFor('a', 1000)).toBe(0);
    expect(await throttle.recordFailure('a', 1000, limits, grant)).toBe(7);
    expect(throttle.blockedFor('a', 1000)).toBe(7);
    expect(throttle.blockedFor('a', 7999)).toBe(1);
    expect(throttle.blockedFor('a', 8000)).toBe(0);
    expect(throttle.blockedFor('b', 1000)).toBe(0);
  });

  it('lets failures through as 401 when the bucket cannot be reached', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const throttle = new FailedKeyThrottle();
    expect(await throttle.recordFailure('a', 0, { limit: 1, windowMs: 1000 }, () => Promise.reject(new Error('object unreachable')))).toBe(0);
  });
});
