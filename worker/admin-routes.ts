/** `GET /v1/edge/status` (API key with the `admin` scope): this isolate's view of the origin pool. */
import { Hono } from 'hono';
import { requireKey } from './auth.ts';
import type { EdgeEnv } from './context.ts';

export const adminRoutes = new Hono<EdgeEnv>();

adminRoutes.get('/edge/status', requireKey({ scope: 'admin' }), (c) =>
  c.json({ origins: c.get('pool').status(Date.now()) }, 200, { 'cache-control': 'no-store' }),
);
