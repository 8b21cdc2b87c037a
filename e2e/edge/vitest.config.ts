import { defineConfig } from 'vitest/config';

// The edge's cross-tier tests (Node: real origins and `wrangler dev`, no browser):
// `npx vitest run --config e2e/edge/vitest.config.ts`. (Not in the root config: they start real processes.)
export default defineConfig({
  test: {
    name: 'edge-integration',
    root: new URL('../..', import.meta.url).pathname,
    include: ['e2e/edge/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
