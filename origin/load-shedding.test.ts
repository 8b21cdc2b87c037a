import { describe, expect, it } from 'vitest';
import { admission, DEFAULT_MAX_QUEUE_WAIT_MS, expectedWaitMs, nextBatchMs, type AdmissionLimits, type QueueSnapshot } from './load-shedding.ts';

const limits: AdmissionLimits = { maxBatchSize: 64, maxQueueRows: 1024, concurrency: 1 };
const idle: QueueSnapshot = { queuedRows: 0, running: 0, oldestRunningMs: 0 };
const busy = (queuedRows: number, oldestRunningMs = 0): QueueSnapshot => ({ queuedRows, running: 1, oldestRunningMs });

describe('expectedWaitMs', () => {
  it('is zero when a lane is free and nothing is queued', () => {
    expect(expectedWaitMs(idle, limits, 1, 40)).toBe(0);
    expect(expectedWaitMs(idle, limits, 64, 40)).toBe(0);
  });

  it('is the rest of the running batch, plus a batch time per full batch of rows ahead', () => {
    expect(expectedWaitMs(busy(0, 10), limits, 1, 40)).toBe(30);
    expect(expectedWaitMs(busy(63, 10), limits, 1, 40)).toBe(30); // joins the next batch
    expect(expectedWaitMs(busy(64, 10), limits, 1, 40)).toBe(70); // one full batch ahead
    expect(expectedWaitMs(busy(128, 10), limits, 1, 40)).toBe(110);
    expect(expectedWaitMs(busy(0, 55), limits, 1, 40)).toBe(0); // the running batch is late: no negative wait
  });

  it('spreads batches over the lanes', () => {
    const two = { ...limits, concurrency: 2 };
    expect(expectedWaitMs({ queuedRows: 64, running: 1, oldestRunningMs: 0 }, two, 1, 40)).toBe(0); // the free lane takes it
    expect(expectedWaitMs({ queuedRows: 128, running: 2, oldestRunningMs: 0 }, two, 1, 40)).toBe(80);
  });
});

describe('admission', () => {
  it('refuses a request with more rows than the queue holds with a non-retryable 413, whatever the queue holds', () => {
    for (const queue of [idle, busy(0), busy(1000)]) {
      const refusal = admission(queue, limits, { rows: 1025 }, 40);
      expect(refusal?.code).toBe('payload_too_large');
      expect(refusal?.retryAfterSeconds).toBeUndefined();
    }
    expect(admission(idle, limits, { rows: 1024 }, undefined)).toBeUndefined();
  });

  it('keeps the row bound, admitting into an empty queue', () => {
    expect(admission(busy(1000), limits, { rows: 25 }, undefined)?.code).toBe('overloaded');
    expect(admission(busy(1000), limits, { rows: 24 }, undefined)).toBeUndefined();
    expect(admission(busy(0), limits, { rows: 1024 }, undefined)).toBeUndefined();
  });

  it('admits on the row bound alone until a batch has been measured', () => {
    expect(admission(busy(900), limits, { rows: 1, remainingMs: 1 }, undefined)).toBeUndefined();
  });

  it('sheds when the expected wait passes the bound on queueing', () => {
    // 50 ms batches: 4 full batches ahead plus the running one's rest (25) wait 225 ms; 5 ahead, 275 ms.
    expect(DEFAULT_MAX_QUEUE_WAIT_MS).toBe(250);
    expect(admission(busy(256, 25), limits, { rows: 1 }, 50)).toBeUndefined();
    const refusal = admission(busy(320, 25), limits, { rows: 1 }, 50);
    expect(refusal?.code).toBe('overloaded');
    expect(refusal?.retryAfterSeconds).toBe(1);
    expect(refusal?.message).toContain('250 ms');
    expect(admission(busy(320, 25), { ...limits, maxQueueWaitMs: 300 }, { rows: 1 }, 50)).toBeUndefined();
  });

  it("sheds when the wait plus the request's own batch passes its deadline", () => {
    // One batch ahead of 100 ms and the running one's rest (50): it would start at 150 and end at 250.
    expect(admission(busy(64, 50), limits, { rows: 1, remainingMs: 250 }, 100)).toBeUndefined();
    expect(admission(busy(64, 50), limits, { rows: 1, remainingMs: 249 }, 100)?.code).toBe('overloaded');
    // A long deadline does not lift the server's bound: 10 batches ahead wait over a second.
    expect(admission(busy(640, 50), limits, { rows: 1, remainingMs: 15_000 }, 100)?.code).toBe('overloaded');
  });

  it('always admits a request that would start at once, however slow the model', () => {
    expect(admission(idle, limits, { rows: 1, remainingMs: 1 }, 10_000)).toBeUndefined();
  });

  it('asks a shed caller to come back when the queue should have drained', () => {
    expect(admission(busy(64 * 30, 0), { ...limits, maxQueueRows: 4096 }, { rows: 1 }, 100)?.retryAfterSeconds).toBe(4); // would wait 3.1 s
  });
});

describe('nextBatchMs', () => {
  it('starts at the first measurement and follows later ones smoothly', () => {
    expect(nextBatchMs(undefined, 40)).toBe(40);
    expect(nextBatchMs(40, 140)).toBeCloseTo(60);
    let average = 40;
    for (let i = 0; i < 50; i++) average = nextBatchMs(average, 100);
    expect(average).toBeCloseTo(100, 2);
  });
});
