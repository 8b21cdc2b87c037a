import { describe, expect, it } from 'vitest';
import { sharedLoads } from './shared-loads.ts';

describe('shared loads', () => {
  it('hands each done load the bound drops to onEvict (to release it), least recently used first', async () => {
    const released: string[] = [];
    const loads = sharedLoads<{ id: string }>(2, (m) => released.push(m.id));
    for (const id of ['a', 'b']) await loads.get(id, async () => ({ id }));
    await loads.get('a', async () => ({ id: 'a2' })); // A hit: 'a' is now the most recent.
    await loads.get('c', async () => ({ id: 'c' }));
    expect(released).toEqual(['b']);
  });

  it('delete(key, value) forgets the load only while it is still the one under key', async () => {
    const loads = sharedLoads<{ n: number }>(1);
    const first = await loads.get('k', async () => ({ n: 1 }));
    await loads.get('other', async () => ({ n: 0 })); // Drops 'k'.
    const second = await loads.get('k', async () => ({ n: 2 }));
    loads.delete('k', first);
    expect(await loads.get('k', async () => ({ n: 3 }))).toBe(second);
    loads.delete('k', second);
    expect((await loads.get('k', async () => ({ n: 4 }))).n).toBe(4);
  });
});
