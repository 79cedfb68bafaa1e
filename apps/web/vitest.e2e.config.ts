import { defineConfig } from 'vitest/config';

/**
 * End-to-end: real Chromium against the real built server serving the real built SPA. Needs
 * apps/server built (turbo's ^build) and /usr/bin/chromium; builds apps/web itself when dist/ is
 * missing or older than the sources (e2e/global-setup.ts).
 */
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    globalSetup: ['e2e/global-setup.ts'],
    // Each file starts its own server(s) and browser; one at a time on a 2-core machine.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
