/**
 * The edge for code that builds on it (tests, tools): re-exports only. The Worker's own entry point is
 * main.ts; the code is grouped by concept in routes/, middleware/, auth/, origin-pool/, rate-limit/,
 * storage/, version-choice/ and http/.
 */
export { createApp, type AppOptions } from './app.ts';
export { EXPOSED_HEADERS } from './middleware/cors.ts';
export { RateLimiter } from './rate-limit/rate-limiter.ts';
export { loadEdgeConfig, DEFAULT_TUNING, type EdgeConfig, type Tuning } from './config.ts';
