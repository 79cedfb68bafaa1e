import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

/** Component tests: screens rendered in jsdom against a fake API (test/fake-api.ts). */
export default defineConfig({
  plugins: [react()],
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'jsdom',
    setupFiles: ['test/setup.ts'],
    restoreMocks: true,
  },
});
