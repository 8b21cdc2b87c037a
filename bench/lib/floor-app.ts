/**
 * The HTTP floor: the origin's HTTP stack (hono on @hono/node-server) answering the same POST with no
 * work. It reads the whole body, as the origin must, and answers a small fixed JSON body. What an infer
 * request costs above this is the origin's own work: auth, decode, validation, queueing, compute, encode,
 * logs and metrics.
 */
import { Hono } from 'hono';

export const FLOOR_BODY = '{"model_name":"floor","outputs":[]}';

export function createFloorApp(): Hono {
  const app = new Hono();
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.post('*', async (c) => {
    await c.req.arrayBuffer();
    return c.body(FLOOR_BODY, 200, { 'content-type': 'application/json' });
  });
  return app;
}
