import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Unit tests of the edge that run inside workerd (Miniflare), with the bindings of wrangler.toml.
// `npx vitest run --config worker/vitest.config.ts`. Its cross-tier tests (real origins, wrangler dev) live in e2e/edge/.
export default defineConfig({
  plugins: [
    cloudflareTest({
      main: './worker/main.ts',
      wrangler: { configPath: './wrangler.toml' },
    }),
  ],
  test: {
    name: 'workerd',
    root: new URL('..', import.meta.url).pathname,
    include: ['worker/**/*.test.ts'],
    exclude: ['worker/integration/**', 'node_modules/**'],
    // A bound on a hung test, not a timing assertion: on a loaded 2-core machine comparing an artifact's
    // bytes inside workerd can pass vitest's default 5 s.
    testTimeout: 20_000,
  },
});
