/**
 * The edge benchmark's floor: a Worker that relays each request to the first of `ORIGINS` with the origin
 * token, reading both bodies in full as the edge's proxy does, and does nothing else: no API key, no rate
 * limit, no routing, no request log. What it adds over going straight to the origin is what workerd and
 * one more loopback hop cost on this machine; what the edge adds over it is the Worker's own work.
 */
// The root wrangler.toml binds this Durable Object class; the floor never uses it.
export { RateLimiter } from '../../worker/rate-limit/rate-limiter.ts';

interface FloorEnv {
  ORIGINS: string;
  ORIGIN_TOKEN?: string;
}

let origin: string | undefined;

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const url = new URL(request.url);
    // The readiness poll of stack/edge-miniflare.ts.
    if (url.pathname === '/v1/models') return Response.json([]);
    origin ??= firstOrigin(env.ORIGINS);
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${env.ORIGIN_TOKEN ?? ''}`);
    const upstream = await fetch(`${origin}${url.pathname}${url.search}`, { method: request.method, headers, body: await request.arrayBuffer() });
    return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers: upstream.headers });
  },
};

function firstOrigin(origins: string): string {
  const first = (JSON.parse(origins) as (string | { url: string })[])[0];
  if (first === undefined) throw new Error('ORIGINS is empty');
  return typeof first === 'string' ? first : first.url;
}
