export { createApp, EXPOSED_HEADERS, type AppOptions } from './app.ts';
export { RateLimiter } from './rate-limit/rate-limiter.ts';
export { loadEdgeConfig, DEFAULT_TUNING, type EdgeConfig, type Tuning } from './config.ts';
