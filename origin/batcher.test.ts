import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TandemError } from '../protocol/errors.ts';
import type { SplitReport } from './batch-isolation.ts';
import { DynamicBatcher, type BatchItem, type BatcherOptions } from './batcher.ts';

const defaults: BatcherOptions = { maxBatchSize: 8, maxQueueDelayMs: 5, maxQueueRows: 32, concurrency: 1, dispatch: 'delay' };

/** A batcher whose runner records each batch and answers every item with its input times ten. */
function recordingBatcher(options: Partial<BatcherOptions> = {}, gate?: Promise<void>) {
  const batches: number[][] = [];
  const batcher = new DynamicBatcher<number, number>(
    { ...defaults, ...options },
    async (items: readonly BatchItem<number>[]) => {
      batches.push(items.map((i) => i.input));
      await gate;
      return items.map((i) => i.input * 10);
    },
    () => Date.now(),
  );
  return { batcher, batches };
}

describe('DynamicBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('merges concurrent requests with the same key, up to maxBatchSize rows, and answers each with its own result', async () => {
    const { batcher, batches } = recordingBatcher({ maxBatchSize: 4 });
    const results = Array.from({ length: 6 }, (_, i) => batcher.submit(i, { rows: 1, key: 'a' }));
    await vi.advanceTimersByTimeAsync(10);
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [0, 1, 2, 3],
      [4, 5],
    ]);
  });

  it('counts rows, not requests, against maxBatchSize', async () => {
    const { batcher, batches } = recordingBatcher({ maxBatchSize: 4 });
    const results = [batcher.submit(1, { rows: 3, key: 'a' }), batcher.submit(2, { rows: 2, key: 'a' }), batcher.submit(3, { rows: 1, key: 'a' })];
    await vi.advanceTimersByTimeAsync(20);
    await Promise.all(results);
    expect(batches).toEqual([[1, 3], [2]]);
  });

  it('never merges different keys, and runs key-less requests alone at once', async () => {
    const { batcher, batches } = recordingBatcher();
    const results = [batcher.submit(1, { rows: 1, key: 'a' }), batcher.submit(2, { rows: 1, key: 'b' }), batcher.submit(3, { rows: 1, key: 'a' })];
    await vi.advanceTimersByTimeAsync(20);
    await Promise.all(results);
    expect(batches).toEqual([[1, 3], [2]]);

    const alone = recordingBatcher();
    const lone = alone.batcher.submit(9, { rows: 1, key: null });
    await vi.advanceTimersByTimeAsync(0);
    expect(alone.batches).toEqual([[9]]);
    expect(await lone).toBe(90);
  });

  it('waits at most maxQueueDelayMs for a batch to fill', async () => {
    const { batcher, batches } = recordingBatcher({ maxQueueDelayMs: 5 });
    const result = batcher.submit(7, { rows: 1, key: 'a' });
    await vi.advanceTimersByTimeAsync(4);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([[7]]);
    expect(await result).toBe(70);
  });

  it('refuses requests past the queue bound with overloaded and Retry-After, while admitted ones succeed', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { batcher } = recordingBatcher({ maxBatchSize: 2, maxQueueRows: 4, maxQueueDelayMs: 0 }, gate);
    const first = batcher.submit(0, { rows: 2, key: 'a' }); // runs, holding the only slot
    await vi.advanceTimersByTimeAsync(0);
    const admitted = [1, 2, 3, 4].map((i) => batcher.submit(i, { rows: 1, key: 'a' }));
    const refused = batcher.submit(5, { rows: 1, key: 'a' });
    await expect(refused).rejects.toMatchObject({ code: 'overloaded', retryAfterSeconds: 1 });
    expect(batcher.stats()).toMatchObject({ queuedRows: 4, running: 1 });
    open();
    await vi.advanceTimersByTimeAsync(10);
    expect(await Promise.all([first, ...admitted])).toEqual([0, 10, 20, 30, 40]);
  });

  it('drops a queued request whose caller aborts, without running it', async () => {
    const { batcher, batches } = recordingBatcher();
    const controller = new AbortController();
    const dropped = batcher.submit(1, { rows: 1, key: 'a', signal: controller.signal });
    const kept = batcher.submit(2, { rows: 1, key: 'a' });
    controller.abort();
    await expect(dropped).rejects.toMatchObject({ code: 'aborted' });
    await vi.advanceTimersByTimeAsync(10);
    expect(await kept).toBe(20);
    expect(batches).toEqual([[2]]);
  });

  it('drops a queued request whose deadline passes, without running it', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { batcher, batches } = recordingBatcher({ maxQueueDelayMs: 0, maxBatchSize: 1 }, gate);
    const busy = batcher.submit(1, { rows: 1, key: 'a' });
    await vi.advanceTimersByTimeAsync(0);
    const late = batcher.submit(2, { rows: 1, key: 'a', deadline: Date.now() + 50 });
    const expectation = expect(late).rejects.toMatchObject({ code: 'deadline_exceeded' });
    await vi.advanceTimersByTimeAsync(60);
    await expectation;
    open();
    await vi.advanceTimersByTimeAsync(1);
    expect(await busy).toBe(10);
    expect(batches).toEqual([[1]]);
  });

  it('on close refuses new requests with shutting_down and finishes the queued ones', async () => {
    const { batcher, batches } = recordingBatcher({ maxQueueDelayMs: 1000 });
    const queued = batcher.submit(3, { rows: 1, key: 'a' });
    const closed = batcher.close();
    await expect(batcher.submit(4, { rows: 1, key: 'a' })).rejects.toMatchObject({ code: 'shutting_down' });
    await vi.advanceTimersByTimeAsync(0);
    await closed;
    expect(await queued).toBe(30);
    expect(batches).toEqual([[3]]);
  });

  it('rejects every member of a batch whose run fails', async () => {
    const batcher = new DynamicBatcher<number, number>(defaults, async () => {
      throw new Error('session exploded');
    });
    const results = [batcher.submit(1, { rows: 1, key: 'a' }), batcher.submit(2, { rows: 1, key: 'a' })];
    const settled = Promise.allSettled(results);
    await vi.advanceTimersByTimeAsync(10);
    expect((await settled).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  describe('a batch one request poisons', () => {
    /** A runner that, like onnxruntime on an out-of-range index, fails a whole run over any negative input, naming it. */
    function poisonableBatcher(options: Partial<BatcherOptions> = {}, runMs = 0) {
      const runs: number[][] = [];
      const splits: SplitReport[] = [];
      const batcher = new DynamicBatcher<number, number>(
        { ...defaults, splittable: (err) => err instanceof Error && err.message.startsWith('run failed'), onSplit: (r) => void splits.push(r), ...options },
        async (items) => {
          runs.push(items.map((i) => i.input));
          if (runMs > 0) await new Promise((resolve) => setTimeout(resolve, runMs));
          const bad = items.find((i) => i.input < 0);
          if (bad) throw new Error(`run failed: index ${bad.input} out of range`);
          return items.map((i) => i.input * 10);
        },
        () => Date.now(),
      );
      return { batcher, runs, splits };
    }

    it('answers every other member from a run without it, and fails it alone with its own error', async () => {
      const { batcher, runs, splits } = poisonableBatcher();
      const inputs = [1, 2, 3, 4, 5, -6, 7, 8];
      const settled = Promise.allSettled(inputs.map((i) => batcher.submit(i, { rows: 1, key: 'a' })));
      await vi.advanceTimersByTimeAsync(10);
      const outcomes = await settled;
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
        10,
        20,
        30,
        40,
        50,
        'run failed: index -6 out of range',
        70,
        80,
      ]);
      // The merged run, then halves down to the bad member: 2·log2(8) = 6 re-runs.
      expect(runs).toEqual([inputs, [1, 2, 3, 4], [5, -6, 7, 8], [5, -6], [5], [-6], [7, 8]]);
      expect(splits).toEqual([expect.objectContaining({ members: 8, reruns: 6, isolated: 1 })]);
    });

    it("gives each of two poisoned members its own error, never the other's", async () => {
      const { batcher } = poisonableBatcher();
      const settled = Promise.allSettled([-1, 2, 3, -4, 5].map((i) => batcher.submit(i, { rows: 1, key: 'a' })));
      await vi.advanceTimersByTimeAsync(10);
      expect((await settled).map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
        'run failed: index -1 out of range',
        20,
        30,
        'run failed: index -4 out of range',
        50,
      ]);
    });

    it('does not run again a batch whose failure is not splittable (a crashed session thread), and rejects every member with it', async () => {
      const { batcher, runs, splits } = poisonableBatcher({ splittable: () => false });
      const settled = Promise.allSettled([1, -2, 3].map((i) => batcher.submit(i, { rows: 1, key: 'a' })));
      await vi.advanceTimersByTimeAsync(10);
      expect((await settled).map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(runs).toEqual([[1, -2, 3]]);
      expect(splits).toEqual([]);
    });

    it('answers a member whose deadline passes or whose caller leaves during the split with that, without running it again', async () => {
      const { batcher, runs } = poisonableBatcher({}, 10);
      const controller = new AbortController();
      const start = Date.now();
      const settled = Promise.allSettled([
        batcher.submit(1, { rows: 1, key: 'a' }),
        batcher.submit(-2, { rows: 1, key: 'a' }),
        batcher.submit(3, { rows: 1, key: 'a', deadline: start + 20 }), // passes while the first half runs again
        batcher.submit(4, { rows: 1, key: 'a', signal: controller.signal }),
      ]);
      await vi.advanceTimersByTimeAsync(5); // the merged run has started (delay dispatch waits 5 ms)
      controller.abort(); // a running request's abort is not seen until it would run again
      await vi.advanceTimersByTimeAsync(100);
      const outcomes = await settled;
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 10 });
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { message: 'run failed: index -2 out of range' } });
      expect(outcomes[2]).toMatchObject({ status: 'rejected', reason: { code: 'deadline_exceeded' } });
      expect(outcomes[3]).toMatchObject({ status: 'rejected', reason: { code: 'aborted' } });
      expect(runs.flat().filter((i) => i === 3 || i === 4)).toEqual([3, 4]); // only in the merged run
    });
  });

  it('runs up to `concurrency` batches at once', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { batcher, batches } = recordingBatcher({ maxBatchSize: 1, concurrency: 2, maxQueueDelayMs: 0 }, gate);
    const results = [1, 2, 3].map((i) => batcher.submit(i, { rows: 1, key: 'a' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1], [2]]);
    expect(batcher.stats().running).toBe(2);
    open();
    await vi.advanceTimersByTimeAsync(1);
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
  });

  it('eager dispatch runs a lone request at once, and batches what arrives while it runs', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { batcher, batches } = recordingBatcher({ dispatch: 'eager', maxQueueDelayMs: 1000 }, gate);
    const first = batcher.submit(1, { rows: 1, key: 'a' });
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1]]); // no wait for the batch to fill
    const rest = [2, 3, 4].map((i) => batcher.submit(i, { rows: 1, key: 'a' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1]]); // the slot is busy: they queue together
    open();
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
  });

  it('refuses more rows than maxQueueRows with payload_too_large, not retryable, whether or not the queue is empty', async () => {
    // Issue 18: such a request ran when it found the queue empty and got a retryable 503 otherwise.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { batcher, batches } = recordingBatcher({ maxQueueRows: 8, maxQueueDelayMs: 0 }, gate);
    const alone = batcher.submit(1, { rows: 9, key: 'a' });
    await expect(alone).rejects.toMatchObject({ code: 'payload_too_large', retryAfterSeconds: undefined });
    const running = batcher.submit(2, { rows: 1, key: 'a' });
    await vi.advanceTimersByTimeAsync(0);
    batcher.submit(3, { rows: 1, key: 'a' }).catch(() => undefined);
    await expect(batcher.submit(4, { rows: 9, key: 'a' })).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(batcher.refusal(9)?.code).toBe('payload_too_large');
    open();
    await vi.advanceTimersByTimeAsync(10);
    expect(await running).toBe(20);
    expect(batches.flat()).not.toContain(1);
  });

  it('at twice its capacity sheds at once what would wait past the bound, and serves the rest within it', async () => {
    // Issue 18: at 2x capacity served requests waited 0.4-0.9 s (p50), up to 3 s, behind a queue bounded
    // only in rows. A model that takes 50 ms per batch of up to 8 rows serves 160 rows/s; offer 320.
    const batchMs = 50;
    const batcher = new DynamicBatcher<number, number>(
      { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueRows: 1024, concurrency: 1, dispatch: 'eager', maxQueueWaitMs: 200 },
      async (items) => {
        await new Promise((resolve) => setTimeout(resolve, batchMs));
        return items.map((i) => i.input);
      },
      () => Date.now(),
    );
    const served: number[] = [];
    const shedAfter: number[] = [];
    const shedRetry: (number | undefined)[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 640; i++) {
      const submitted = Date.now();
      let settledAt: number | undefined;
      pending.push(
        batcher.submit(i, { rows: 1, key: 'a' }).then(
          () => void served.push(Date.now() - submitted),
          (err: TandemError) => {
            settledAt = Date.now();
            shedAfter.push(settledAt - submitted);
            shedRetry.push(err.code === 'overloaded' ? err.retryAfterSeconds : -1);
          },
        ),
      );
      await vi.advanceTimersByTimeAsync(1000 / 320);
    }
    await vi.advanceTimersByTimeAsync(5000); // time for anything admitted to finish, even behind a long queue
    await Promise.all(pending);
    served.sort((a, b) => a - b);
    // With shedding by rows alone (the old policy) nothing was shed here, and the p99 wait passed 1.9 s.
    expect(shedAfter.length).toBeGreaterThan(200); // about half
    expect(Math.max(...shedAfter)).toBe(0); // answered at once, not after waiting
    expect(new Set(shedRetry)).toEqual(new Set([1]));
    expect(served.length).toBeGreaterThan(280); // capacity, about 320 in 2 s, is still used
    expect(served[Math.floor(served.length * 0.99)]!).toBeLessThanOrEqual(200 + 2 * batchMs);
  });

  it('flush runs what is queued without waiting for batches to fill, and still takes requests', async () => {
    const { batcher, batches } = recordingBatcher({ maxQueueDelayMs: 1000, dispatch: 'delay' });
    const queued = batcher.submit(1, { rows: 1, key: 'a' });
    await vi.advanceTimersByTimeAsync(10);
    expect(batches).toEqual([]);
    batcher.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1]]);
    const later = batcher.submit(2, { rows: 1, key: 'a' });
    await vi.advanceTimersByTimeAsync(0);
    expect(await Promise.all([queued, later])).toEqual([10, 20]);
  });

  it('rejects nonsensical options at construction', () => {
    expect(() => new DynamicBatcher({ ...defaults, maxBatchSize: 0 }, async () => [])).toThrowError(/maxBatchSize/);
  });
});
