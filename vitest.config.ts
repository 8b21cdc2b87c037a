import { defineConfig } from 'vitest/config';

// Unit and integration tests that run in Node. Each project is one runtime; workerd tests join as their own
// project under worker/. Model-building tests share one build through models/test-support (cached on disk).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: [
            'protocol/**/*.test.ts',
            'models/**/*.test.ts',
            'origin/**/*.test.ts',
            'client/**/*.test.ts',
            'deploy/**/*.test.ts',
            'bench/**/*.test.ts',
            'stack/**/*.test.ts',
          ],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
