import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServedVersions } from './served-versions.ts';

/** A listing of `stored` that counts its calls; `fail` makes the next ones reject. */
function lister(stored: Record<string, string[]>) {
  const state = { calls: 0, fail: false, stored };
  const list = async () => {
    state.calls++;
    if (state.fail) throw new Error('R2 is down');
    return new Map(Object.entries(state.stored));
  };
  return { list, state };
}

afterEach(() => vi.restoreAllMocks());

describe('ServedVersions', () => {
  it('knows the stored model versions, and nothing else', async () => {
    const { list } = lister({ m: ['1.0.0', '1.1.0'] });
    const serves = await new ServedVersions().lookup(list, 5000, 0);
    expect([serves('m', '1.0.0'), serves('m', '1.1.0'), serves('m', '2.0.0'), serves('junk', '1.0.0')]).toEqual([true, true, false, false]);
  });

  it('lists once per TTL whatever is asked, and once for lookups that arrive together', async () => {
    const { list, state } = lister({ m: ['1.0.0'] });
    const served = new ServedVersions();
    await Promise.all([served.lookup(list, 5000, 0), served.lookup(list, 5000, 0), served.lookup(list, 5000, 1)]);
    for (let t = 0; t < 5000; t += 500) (await served.lookup(list, 5000, t))('junk', `0.0.${t}`);
    expect(state.calls).toBe(1);
    state.stored = { m: ['1.0.0', '1.1.0'] };
    expect((await served.lookup(list, 5000, 4999))('m', '1.1.0')).toBe(false);
    expect((await served.lookup(list, 5000, 5000))('m', '1.1.0')).toBe(true);
    expect(state.calls).toBe(2);
  });

  it('keeps the last listing when a listing fails, and does not ask again before the TTL', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const { list, state } = lister({ m: ['1.0.0'] });
    const served = new ServedVersions();
    await served.lookup(list, 5000, 0);
    state.fail = true;
    expect((await served.lookup(list, 5000, 5000))('m', '1.0.0')).toBe(true);
    expect((await served.lookup(list, 5000, 9999))('m', '1.0.0')).toBe(true);
    expect(state.calls).toBe(2);
    expect(JSON.parse(String(log.mock.calls[0]![0]))).toMatchObject({ event: 'served_versions_list_failed', versions_kept: 1 });
  });
});
