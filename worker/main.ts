/**
 * The Worker's entry point (wrangler.toml `main`): the edge app, and the Durable Object class it binds.
 */
import { createApp } from './app.ts';

export { RateLimiter } from './rate-limit/rate-limiter.ts';

export default createApp();
