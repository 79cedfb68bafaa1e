import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The smoke test boots redis-server, PGlite and the server: seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
