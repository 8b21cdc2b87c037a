import { defineConfig } from 'vitest/config';

// The edge's integration tests alone (Node: real origins and `wrangler dev`):
// `npx vitest run --config worker/integration/vitest.config.ts`. The root config may run them too.
export default defineConfig({
  test: {
    name: 'edge-integration',
    root: new URL('../..', import.meta.url).pathname,
    include: ['worker/integration/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
