import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** Where the Tessera server listens in development (`pnpm --filter @tessera/server dev`). */
const API = process.env.TESSERA_API_URL ?? 'http://localhost:3000';

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    strictPort: true,
    // Same origin for the SPA and the API: the session cookie stays first-party in development too.
    proxy: {
      '/trpc': { target: API, ws: false },
      // The browser's own DBSC calls (device-bound sessions): registration and refresh.
      '/dbsc': { target: API },
      '/healthz': { target: API },
      '/readyz': { target: API },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Every browser we support has <link rel="modulepreload">: skip the polyfill's bytes.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
