/**
 * Headers that the middlewares wrapping every route (CORS, the request id) write on a route's answer once
 * it is made. Written into the answer's own headers: hono's `c.header` would copy the whole Response to do
 * it. An answer whose headers are frozen (a Cache API hit, a Response from `fetch`) is copied once, by
 * `c.header`, and written there.
 */
import type { Context } from 'hono';

export function setAnswerHeaders(c: Context, headers: readonly (readonly [name: string, value: string])[]): void {
  try {
    for (const [name, value] of headers) c.res.headers.set(name, value);
  } catch (err) {
    // Frozen headers throw a TypeError on the first write, before anything was written.
    if (!(err instanceof TypeError)) throw err;
    for (const [name, value] of headers) c.header(name, value);
  }
}
