/** The canary judge: which outcomes count, the median from buckets, and each threshold's edge. */
import { describe, expect, it } from 'vitest';
import { CONFIDENCE_BUCKETS } from '../../protocol/device-telemetry.ts';
import { judgeCanary, medianFromBuckets, noOutcomes, outcomesSince, type RunOutcomes, runVerdict } from './canary-judge.ts';

const THRESHOLDS = { maxErrorRate: 0.05, minMedianConfidence: 0.6, minSamples: 100 };

/** `n` successful runs in the bucket with upper bound `le`, and `errors` failed ones. */
function runs(n: number, errors = 0, le?: number): RunOutcomes {
  const confidence = new Array<number>(CONFIDENCE_BUCKETS.length).fill(0);
  if (le !== undefined) confidence[CONFIDENCE_BUCKETS.indexOf(le as (typeof CONFIDENCE_BUCKETS)[number])] = n;
  return { runs: n + errors, errors, confidence };
}

describe('runVerdict', () => {
  it("counts the version's own failures and leaves out the caller's and the tier's", () => {
    expect(runVerdict('ok')).toBe('ok');
    expect(runVerdict('inference_failed')).toBe('error');
    expect(runVerdict('internal')).toBe('error');
    expect(runVerdict('onnx_load_failed')).toBe('error');
    for (const code of ['input_shape_mismatch', 'rate_limited', 'overloaded', 'origin_unavailable', 'offline', 'aborted', 'device_unsupported']) {
      expect(runVerdict(code), code).toBe('ignored');
    }
    expect(runVerdict('not-a-code')).toBe('ignored');
    expect(runVerdict(200)).toBe('ok');
    expect(runVerdict(500)).toBe('error');
    expect(runVerdict(400)).toBe('ignored');
  });
});

describe('medianFromBuckets', () => {
  it('interpolates within the bucket holding the median', () => {
    const all = (i: number, n: number) => CONFIDENCE_BUCKETS.map((_, j) => (j === i ? n : 0));
    expect(medianFromBuckets(all(8, 10))).toBeCloseTo(0.85); // (0.8, 0.9]
    expect(medianFromBuckets(all(0, 4))).toBeCloseTo(0.05); // [0, 0.1]
    // 30 at <= 0.3, 70 at <= 0.95: the 50th lies 20/70 into (0.9, 0.95].
    const split = CONFIDENCE_BUCKETS.map((le) => (le === 0.3 ? 30 : le === 0.95 ? 70 : 0));
    expect(medianFromBuckets(split)).toBeCloseTo(0.9 + 0.05 * (20 / 70));
    expect(medianFromBuckets([])).toBeUndefined();
  });
});

describe('judgeCanary', () => {
  it('collects until minSamples, device and origin runs together', () => {
    const v = judgeCanary({ device: runs(50, 10, 0.9), origin: runs(30, 5) }, THRESHOLDS);
    expect(v).toMatchObject({ state: 'collecting', runs: { device: 60, origin: 35, total: 95 }, errors: 15, reasons: [] });
  });

  it('fails on an error rate over the threshold, naming the figures', () => {
    const v = judgeCanary({ device: runs(90, 6, 0.9), origin: runs(4, 0) }, THRESHOLDS);
    expect(v.state).toBe('failing');
    expect(v.errorRate).toBe(0.06);
    expect(v.reasons).toEqual(['error rate 0.06 > maxErrorRate 0.05 over 100 runs (device 96, origin 4)']);
  });

  it('is healthy at exactly the error threshold', () => {
    expect(judgeCanary({ device: runs(95, 5, 0.9), origin: noOutcomes() }, THRESHOLDS).state).toBe('healthy');
  });

  it('fails on a median confidence under the threshold, once minSamples runs carry one', () => {
    const low = judgeCanary({ device: runs(100, 0, 0.5), origin: noOutcomes() }, THRESHOLDS);
    expect(low.state).toBe('failing');
    expect(low.medianConfidence).toBe(0.45);
    expect(low.reasons).toEqual(['median top-class confidence 0.45 < minMedianConfidence 0.6 over 100 runs']);
    // 100 runs, but only 60 with a confidence (origin answers carry none): the median is not judged yet.
    expect(judgeCanary({ device: runs(60, 0, 0.5), origin: runs(40) }, THRESHOLDS).state).toBe('healthy');
  });

  it('judges only the runs since a baseline', () => {
    const base = runs(160, 40, 0.9); // 200 runs, 40 failed
    const later: RunOutcomes = { runs: 300, errors: 41, confidence: runs(259, 0, 0.9).confidence };
    const since = outcomesSince(later, base);
    expect(since).toMatchObject({ runs: 100, errors: 1 });
    expect(judgeCanary({ device: since, origin: noOutcomes() }, THRESHOLDS).state).toBe('healthy');
    expect(judgeCanary({ device: later, origin: noOutcomes() }, THRESHOLDS).state).toBe('failing');
  });
});
