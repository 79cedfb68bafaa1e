import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real stores: PGlite's first open takes seconds and private redis-servers need to boot.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own private services; two cores don't gain from more parallelism.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
