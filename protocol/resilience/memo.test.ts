import { describe, expect, it } from 'vitest';
import { memoizePromises } from './memo.ts';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('memoizePromises', () => {
  it('shares one in-flight promise per key', async () => {
    const memo = memoizePromises<number>(4);
    let calls = 0;
    const make = () => new Promise<number>((r) => setTimeout(() => r(++calls), 5));
    const [a, b] = await Promise.all([memo.get('k', make), memo.get('k', make)]);
    expect([a, b, calls]).toEqual([1, 1, 1]);
  });

  it('evicts a rejected promise so the next call tries again', async () => {
    const memo = memoizePromises<number>(4);
    await expect(memo.get('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await tick();
    expect(memo.size).toBe(0);
    expect(await memo.get('k', async () => 2)).toBe(2);
  });

  it('is bounded, dropping the least recently used settled entry and never a pending one', async () => {
    const memo = memoizePromises<string>(2);
    await memo.get('a', async () => 'a');
    const pending = memo.get('b', () => new Promise<string>(() => {}));
    await tick();
    void memo.get('c', async () => 'c');
    expect(memo.size).toBe(2); // 'a' (settled, oldest) went; 'b' is pending and stays.
    let again = false;
    await memo.get('a', async () => ((again = true), 'a'));
    expect(again).toBe(true);
    void pending;
  });

  it('tells onEvict of each entry the bound drops, and not of delete or clear', async () => {
    const dropped: string[] = [];
    const memo = memoizePromises<string>(1, (key, value) => void value.then((v) => dropped.push(`${key}=${v}`)));
    await memo.get('a', async () => 'A');
    await memo.get('b', async () => 'B');
    memo.delete('b');
    await memo.get('c', async () => 'C');
    memo.clear();
    await tick();
    expect(dropped).toEqual(['a=A']);
  });

  it('rejects a silly bound at construction', () => {
    expect(() => memoizePromises(0)).toThrow(RangeError);
  });
});
