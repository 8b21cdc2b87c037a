/**
 * W3C Trace Context's `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header), the
 * one trace a run keeps from the SDK through the edge to the origin. The SDK starts a trace per run (or
 * takes the app's), each tier that handles the request continues it with a span of its own, and every
 * tier's log line names the trace id, so one id finds the request in all three logs.
 *
 * Parsing follows the spec's rules for a receiver: lowercase hex only, an all-zero trace or parent id is
 * invalid, version `ff` is invalid, and a later version is read by its version-00 prefix. A header that
 * fails them is ignored (a new trace starts), never echoed into a log.
 */

/** The header's name, lowercase as HTTP/2 sends it. */
export const TRACEPARENT_HEADER = 'traceparent';

/** One parsed `traceparent`. */
export interface TraceContext {
  /** 32 lowercase hex digits; never all zeros. */
  traceId: string;
  /** The caller's span: 16 lowercase hex digits; never all zeros. */
  spanId: string;
  /** Trace flags; bit 0 is `sampled`. */
  flags: number;
}

const VERSION_00 = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO = /^0+$/;

/**
 * The header's trace context, or undefined when it is absent or invalid (then the receiver starts a new trace).
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.traceId; // '4bf92f3577b34da6a3ce929d0e0e4736'
 */
export function parseTraceparent(header: string | null | undefined): TraceContext | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  // A later version may append fields after a dash; its first 55 characters are read as version 00.
  const head = value.length > 55 && value[55] === '-' && !value.startsWith('00') ? value.slice(0, 55) : value;
  const m = VERSION_00.exec(head);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (version === 'ff') return undefined;
  if (ZERO.test(traceId) || ZERO.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** The header value of a trace context (always written as version 00). */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * A new span of `parent`'s trace (this tier's), or the root span of a new trace when there is no parent.
 * New traces are sampled (flag 01): Tandem logs every request, so every trace is recorded.
 * @example
 * const mine = continueTrace(parseTraceparent(req.headers.get(TRACEPARENT_HEADER)));
 * forward.set(TRACEPARENT_HEADER, formatTraceparent(mine));
 */
export function continueTrace(parent?: TraceContext, random: (bytes: Uint8Array<ArrayBuffer>) => void = pooled): TraceContext {
  return { traceId: parent?.traceId ?? randomHex(16, random), spanId: randomHex(8, random), flags: parent?.flags ?? 1 };
}

/**
 * Fills arrays with cryptographically random bytes taken from a block drawn `blockBytes` at a time, as
 * node:crypto's `randomUUID` does: the same source, one call per block instead of one per id, and each
 * byte handed out once. One `getRandomValues` call per id cost 12 µs of every origin request, and some
 * 40 µs of every SDK run in Chromium (docs/performance.md). No bytes are drawn until the first id (workerd
 * refuses random values outside a request).
 * @example
 * const random = pooledRandom();
 * const span = continueTrace(parent, random);
 */
export function pooledRandom(blockBytes = 4096): (bytes: Uint8Array<ArrayBuffer>) => void {
  let block = new Uint8Array(0);
  let at = 0;
  return (bytes) => {
    if (at + bytes.length > block.length) {
      block = crypto.getRandomValues(new Uint8Array(Math.max(blockBytes, bytes.length)));
      at = 0;
    }
    bytes.set(block.subarray(at, at + bytes.length));
    at += bytes.length;
  };
}

const pooled = pooledRandom();

/** Each byte's two hex digits: a lookup per byte instead of `toString(16).padStart` (ids are made on every run). */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** `bytes` random bytes as lowercase hex, never all zeros (the spec's invalid value). */
function randomHex(bytes: number, random: (bytes: Uint8Array<ArrayBuffer>) => void): string {
  const buffer = new Uint8Array(bytes);
  random(buffer);
  if (buffer.every((b) => b === 0)) buffer[bytes - 1] = 1;
  let hex = '';
  for (let i = 0; i < bytes; i++) hex += HEX[buffer[i]!];
  return hex;
}
