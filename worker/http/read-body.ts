/**
 * A request's body, whole, within a size limit and by a deadline. The size: a declared `Content-Length`
 * over the limit is refused before any byte is read, and a body without one (chunked) is counted as it
 * arrives and refused once past it. The deadline: a client that stops sending mid-body is answered 400
 * `bad_request` (as the origin answers a body that does not arrive in time) instead of holding the
 * request, and the rate-limit token it spent, for as long as its connection stays open.
 */
import { TandemError } from '../../protocol/errors.ts';

export interface BodyLimits {
  maxBytes: number;
  /** Absolute time (ms since the epoch) by which the whole body must have arrived. */
  deadline: number;
}

export function readBody(request: Request, { maxBytes, deadline }: BodyLimits): Promise<ArrayBuffer> {
  const declared = request.headers.has('transfer-encoding') ? null : request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  const seconds = Math.max(0, deadline - Date.now()) / 1000;
  // The runtime's own timer, not a JavaScript one (origin-pool/proxy.ts says why).
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(seconds * 1000)));
  const reading = declared !== null || request.body === null ? request.arrayBuffer() : readCapped(request.body, maxBytes, signal);
  return new Promise((resolve, reject) => {
    const late = () => reject(new TandemError('bad_request', `the request body did not arrive within ${Number(seconds.toFixed(1))} s`));
    signal.addEventListener('abort', late, { once: true });
    reading.then(resolve, reject).finally(() => signal.removeEventListener('abort', late));
  });
}

/** A body of unknown length, counted chunk by chunk; the stream is cancelled once over the limit or late. */
async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number, signal: AbortSignal): Promise<ArrayBuffer> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        cancel();
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole.buffer;
}

function tooLarge(maxBytes: number): TandemError {
  return new TandemError('payload_too_large', `request body is over ${maxBytes} bytes`);
}
