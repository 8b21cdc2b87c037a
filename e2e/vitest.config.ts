import { defineConfig } from 'vitest/config';

// End-to-end: Debian's Chromium against the real origin, edge (`wrangler dev`) and demo page.
// `npx vitest run --config e2e/vitest.config.ts`. One file at a time: each starts its own stack.
export default defineConfig({
  test: {
    name: 'e2e',
    root: new URL('..', import.meta.url).pathname,
    include: ['e2e/**/*.test.ts'],
    // The edge's cross-tier tests (no browser) are their own suite: e2e/edge/vitest.config.ts.
    exclude: ['e2e/edge/**'],
    environment: 'node',
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
