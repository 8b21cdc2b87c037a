/**
 * Automatic rollback at the edge: counts the outcomes of origin runs the edge proxied, per model and
 * version, takes device runs from the telemetry aggregate (telemetry/aggregate.ts), judges each canary
 * version of a rollout record in force (canary-judge.ts) and, on a `failing` verdict, takes its share away
 * (weight-overrides.ts `zeroVersionWeight`: logged `rollout_weight_zeroed`, shown on the status route)
 * and counts it in `tandem_edge_rollout_rollbacks_total`.
 *
 * Judged when numbers arrive (a telemetry batch, a proxied answer), never on a timer. A record's canary
 * is judged on the runs counted since this isolate first saw that record version: a newer record (the
 * operator trying the canary again) starts from zero, not from the runs that rolled it back.
 *
 * Per isolate, in memory, like the aggregate and the overrides: each isolate judges what it saw. That is
 * the local stack's shape (one isolate); in production the counts and the verdict belong in a Durable
 * Object (or KV) that every isolate reports to and reads, which is not built here.
 */
import { CONFIDENCE_BUCKETS } from '../../protocol/device-telemetry.ts';
import { canaryVersions, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import type { TelemetrySnapshot } from '../telemetry/aggregate.ts';
import { type CanaryVerdict, judgeCanary, noOutcomes, outcomesSince, type RunOutcomes, runVerdict } from './canary-judge.ts';
import { overridesFor, zeroVersionWeight } from './weight-overrides.ts';

/** How many model@version pairs of origin runs one isolate counts. */
const MAX_VERSIONS = 1024;

const originRuns = new Map<string, RunOutcomes>();

interface ModelWatch {
  recordVersion: number;
  /** Per canary version, the counts when this record version was first seen. */
  baselines: Map<string, { device: RunOutcomes; origin: RunOutcomes }>;
  /** Per canary version, the counts at the last judgment: the next record's baselines. */
  last: Map<string, { device: RunOutcomes; origin: RunOutcomes }>;
  verdicts: Map<string, CanaryVerdict & { at: number }>;
}

const watches = new Map<string, ModelWatch>();
const rollbacks = new Map<string, { model: string; version: string; value: number }>();

/**
 * Counts an origin's answer for `model@version`: its `x-tandem-error-code`, else its HTTP status.
 * @example
 * recordOriginRun('mlp-classifier', '1.1.0', res.status, res.headers.get('x-tandem-error-code'));
 */
export function recordOriginRun(model: string, version: string, status: number, code: string | null): void {
  const verdict = runVerdict(code ?? status);
  if (verdict === 'ignored') return;
  const key = `${model}\u0000${version}`;
  let counts = originRuns.get(key);
  if (!counts) {
    if (originRuns.size >= MAX_VERSIONS) originRuns.delete(originRuns.keys().next().value!);
    originRuns.set(key, (counts = noOutcomes()));
  }
  counts.runs++;
  if (verdict === 'error') counts.errors++;
}

/** Device runs of `model@version` in a telemetry snapshot, every variant and backend together. */
export function deviceOutcomes(snapshot: TelemetrySnapshot, model: string, version: string): RunOutcomes {
  const out: RunOutcomes = { runs: 0, errors: 0, confidence: new Array<number>(CONFIDENCE_BUCKETS.length).fill(0) };
  for (const s of snapshot.runs) {
    if (s.labels.model !== model || s.labels.version !== version) continue;
    const verdict = runVerdict(s.labels.outcome ?? '');
    if (verdict === 'ignored') continue;
    out.runs += s.value;
    if (verdict === 'error') out.errors += s.value;
  }
  for (const h of snapshot.confidences) {
    if (h.labels.model !== model || h.labels.version !== version) continue;
    h.buckets.forEach((n, i) => (out.confidence[i]! += n));
  }
  return out;
}

/**
 * Judges every canary version of `record` on the runs counted since this isolate first saw it, and
 * zeroes the weight of each that fails. A version already zeroed for this record is not judged again.
 * @returns the versions rolled back by this call.
 * @example
 * judgeRollout(view.record, deviceTelemetry.snapshot());
 */
export function judgeRollout(record: RolloutRecord, snapshot: TelemetrySnapshot, now: number = Date.now()): string[] {
  const counts = (version: string) => ({
    device: deviceOutcomes(snapshot, record.model, version),
    origin: originRuns.get(`${record.model}\u0000${version}`) ?? noOutcomes(),
  });
  let watch = watches.get(record.model);
  if (!watch || watch.recordVersion !== record.version) {
    // First sight in this isolate: everything counted so far is this record's. A newer record: the runs
    // counted up to the last judgment under the old one are the old one's (those since, such as the batch
    // that brought this call, are the new one's).
    const baselines = new Map(watch?.last ?? []);
    watch = { recordVersion: record.version, baselines, last: new Map(), verdicts: new Map() };
    watches.set(record.model, watch);
  }
  const zeroed = new Set(overridesFor(record.model, record.version).map((o) => o.version));
  const rolledBack: string[] = [];
  for (const version of canaryVersions(record)) {
    const now_ = counts(version);
    watch.last.set(version, structuredClone(now_));
    if (zeroed.has(version)) continue;
    const base = watch.baselines.get(version) ?? { device: noOutcomes(), origin: noOutcomes() };
    const verdict = judgeCanary({ device: outcomesSince(now_.device, base.device), origin: outcomesSince(now_.origin, base.origin) }, record.rollback);
    watch.verdicts.set(version, { ...verdict, at: now });
    if (verdict.state !== 'failing') continue;
    zeroVersionWeight(record.model, version, verdict.reasons.join('; '), record.version, now);
    const key = `${record.model}\u0000${version}`;
    const counter = rollbacks.get(key) ?? { model: record.model, version, value: 0 };
    counter.value++;
    rollbacks.set(key, counter);
    rolledBack.push(version);
  }
  return rolledBack;
}

/** The last verdict per canary version of `model`'s record in force, for the status route. */
export function canaryVerdicts(model: string, recordVersion: number): Record<string, CanaryVerdict & { at: number }> {
  const watch = watches.get(model);
  return watch && watch.recordVersion === recordVersion ? Object.fromEntries(watch.verdicts) : {};
}

/** `tandem_edge_rollout_rollbacks_total` as Prometheus text (empty without a rollback). */
export function rollbackMetricsText(): string {
  if (rollbacks.size === 0) return '';
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const lines = [
    '# HELP tandem_edge_rollout_rollbacks_total Canary versions whose weight the edge set to 0 automatically (this isolate).',
    '# TYPE tandem_edge_rollout_rollbacks_total counter',
  ];
  for (const r of rollbacks.values()) lines.push(`tandem_edge_rollout_rollbacks_total{model="${esc(r.model)}",version="${esc(r.version)}"} ${r.value}`);
  return `${lines.join('\n')}\n`;
}

/** Forgets every count, verdict and rollback (tests). */
export function resetCanaryWatch(): void {
  originRuns.clear();
  watches.clear();
  rollbacks.clear();
}
