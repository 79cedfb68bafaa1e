/**
 * Before the e2e files: the server must be built (turbo's `^build`), Chromium must exist, and the web
 * build must be current (rebuilt here when any source is newer than dist/index.html).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, SERVER_DIR, WEB_DIR } from './harness';

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

export default function setup(): void {
  if (!existsSync(join(SERVER_DIR, 'dist/main.js')) || !existsSync(join(SERVER_DIR, 'dist/cli.js'))) {
    throw new Error(
      'apps/server is not built: run `pnpm build` (or `pnpm turbo run build --filter=@tessera/server...`).',
    );
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH).`);
  }
  const index = join(WEB_DIR, 'dist/index.html');
  const sources = Math.max(
    newest(join(WEB_DIR, 'src')),
    newest(join(WEB_DIR, 'index.html')),
    newest(join(WEB_DIR, 'public')),
  );
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    // NODE_ENV=production: vitest sets `test`, which would make Vite bundle React's development build.
    execFileSync('pnpm', ['exec', 'vite', 'build', '--logLevel', 'warn'], {
      cwd: WEB_DIR,
      stdio: 'inherit',
      env: { ...process.env, NODE_ENV: 'production' },
    });
  }
}
