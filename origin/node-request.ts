/**
 * Reading a request on @hono/node-server without its slow path. Touching `c.req.raw.body` or
 * `c.req.raw.signal` makes the adapter build a full web `Request` and stream per request (measured: it
 * cut the origin's HTTP floor several times over), so the body is read from Node's IncomingMessage with
 * the size limit enforced as it streams, and a client disconnect is seen on the ServerResponse.
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { TandemError } from '../protocol/errors.ts';

/**
 * The request body, refused with `payload_too_large` as soon as it passes `maxBytes` (by its
 * Content-Length, or while reading a chunked body), or with `aborted` when the client disconnects before it
 * has all arrived.
 */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new TandemError('payload_too_large', `request bodies are limited to ${maxBytes} bytes`);
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge();
  const incoming = (c.env as HttpBindings | undefined)?.incoming;
  if (!incoming) {
    const body = new Uint8Array(await c.req.arrayBuffer()); // Not on node-server (app.request in tests).
    if (body.length > maxBytes) throw tooLarge();
    return body;
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > maxBytes) {
        incoming.resume(); // Drain the rest so the connection can still carry the 413.
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (err) {
    // A client that goes away mid-upload makes Node's stream fail with `aborted` (ECONNRESET): the
    // caller's doing, not a server failure to log and count as `internal`.
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET') {
      throw new TandemError('aborted', 'the client disconnected before its request body arrived', { cause: err });
    }
    throw err;
  }
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** Aborts when the client goes away before its response was sent. */
export function disconnectSignal(c: Context): AbortSignal | undefined {
  const outgoing = (c.env as HttpBindings | undefined)?.outgoing;
  if (!outgoing) return undefined;
  const controller = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) controller.abort();
  });
  return controller.signal;
}
