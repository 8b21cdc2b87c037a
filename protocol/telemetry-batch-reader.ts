/**
 * The edge's strict reader of a device-telemetry batch (device-telemetry.ts has the format): known keys
 * only, every field checked against the protocol's own patterns, nothing echoed back.
 */
import { ERRORS, TandemError } from './errors.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from './manifest.ts';
import { CONFIDENCE_BUCKETS, TELEMETRY_BACKENDS, TELEMETRY_LIMITS, type DeviceRunRecord, type TelemetryBatch } from './device-telemetry.ts';

const VARIANT = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const RECORD_KEYS = new Set(['model', 'version', 'variant', 'backend', 'latency_ms', 'outcome', 'fallback', 'confidence_le']);

/**
 * Reads a batch strictly: known keys only, every field checked, nothing longer than its pattern allows.
 * @throws TandemError `bad_request` naming the first bad field (its value never echoed).
 */
export function parseTelemetryBatch(body: unknown): TelemetryBatch {
  const bad = (where: string, what: string) => new TandemError('bad_request', `telemetry: ${where} ${what}`);
  if (!isObject(body)) throw bad('body', 'must be a JSON object');
  for (const key of Object.keys(body)) if (key !== 'records' && key !== 'dropped') throw bad('body', `has an unknown field (only records, dropped)`);
  const { records, dropped = 0 } = body;
  if (!Array.isArray(records)) throw bad('records', 'must be an array');
  if (records.length > TELEMETRY_LIMITS.maxRecords) throw bad('records', `has more than ${TELEMETRY_LIMITS.maxRecords} entries`);
  if (typeof dropped !== 'number' || !Number.isInteger(dropped) || dropped < 0 || dropped > TELEMETRY_LIMITS.maxDropped) {
    throw bad('dropped', `must be a whole number from 0 to ${TELEMETRY_LIMITS.maxDropped}`);
  }
  return { records: records.map((r, i) => parseRecord(r, `records[${i}]`, bad)), dropped };
}

function parseRecord(r: unknown, at: string, bad: (where: string, what: string) => TandemError): DeviceRunRecord {
  if (!isObject(r)) throw bad(at, 'must be an object');
  for (const key of Object.keys(r)) if (!RECORD_KEYS.has(key)) throw bad(at, `has an unknown field`);
  const text = (name: string, pattern: RegExp, what: string): string => {
    const value = r[name];
    if (typeof value !== 'string' || !pattern.test(value)) throw bad(`${at}.${name}`, `must be ${what}`);
    return value;
  };
  const model = text('model', MODEL_ID_PATTERN, 'a model id');
  const version = text('version', VERSION_PATTERN, 'a semantic version');
  const variant = text('variant', VARIANT, "a variant's name");
  const backend = r.backend;
  if (!TELEMETRY_BACKENDS.includes(backend as never)) throw bad(`${at}.backend`, `must be one of ${TELEMETRY_BACKENDS.join(', ')}`);
  const latency = r.latency_ms;
  if (typeof latency !== 'number' || !(latency >= 0 && latency <= TELEMETRY_LIMITS.maxLatencyMs)) {
    throw bad(`${at}.latency_ms`, `must be a number from 0 to ${TELEMETRY_LIMITS.maxLatencyMs}`);
  }
  const outcome = r.outcome;
  if (typeof outcome !== 'string' || (outcome !== 'ok' && !Object.hasOwn(ERRORS, outcome))) throw bad(`${at}.outcome`, 'must be ok or an error code');
  if (typeof r.fallback !== 'boolean') throw bad(`${at}.fallback`, 'must be true or false');
  const record: DeviceRunRecord = {
    model,
    version,
    variant,
    backend: backend as DeviceRunRecord['backend'],
    latency_ms: latency,
    outcome: outcome as DeviceRunRecord['outcome'],
    fallback: r.fallback,
  };
  if (r.confidence_le !== undefined) {
    if (!CONFIDENCE_BUCKETS.includes(r.confidence_le as never)) throw bad(`${at}.confidence_le`, `must be one of ${CONFIDENCE_BUCKETS.join(', ')}`);
    record.confidence_le = r.confidence_le as number;
  }
  return record;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
