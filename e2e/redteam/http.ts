/**
 * One HTTP request on a connection of its own (`agent: false`), for the red team: whatever a bad request
 * does to its connection cannot fall on the next one, and no request is sent on a kept-alive connection
 * the server is closing at that moment (`wrangler dev`'s server drops a connection idle for 5 s without
 * saying so; a client whose 4 s timer runs late on a busy machine sends into that close, a loss of the
 * dev server's, not the edge's). Fetch's pool stays for the load loops, whose connections never idle.
 */
import { request } from 'node:http';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Whether the body reached its end (false: the server cut it short of its length). */
  complete: boolean;
}

export interface RawRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs?: number;
}

/**
 * @throws the client's error when no answer came (its `code`: ECONNRESET, ECONNREFUSED, ERR_INVALID_CHAR...).
 * @example
 * const { status, body } = await send('http://127.0.0.1:8787/v1/models', { method: 'GET' });
 */
export function send(url: string, init: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method, headers: init.headers ?? {}, agent: false, signal: AbortSignal.timeout(init.timeoutMs ?? 20_000) },
      (res) => {
        const chunks: Buffer[] = [];
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', done);
        // Cut short of its Content-Length: an answer whose body did not complete.
        res.on('error', done);
      },
    );
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(init.body));
  });
}

/** One header's value. */
export function header(answer: RawAnswer, name: string): string | undefined {
  const value = answer.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
