/** Production mode serves the built SPA from the same origin, with a strict CSP and no directory escapes. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type TestApp } from './helpers/app.js';

let app: TestApp;
let web: string;
beforeAll(async () => {
  web = mkdtempSync(join(tmpdir(), 'tessera-web-'));
  mkdirSync(join(web, 'assets'));
  writeFileSync(
    join(web, 'index.html'),
    '<!doctype html><title>Tessera</title><script type="module" src="/assets/app-1a2b.js"></script>',
  );
  writeFileSync(join(web, 'assets', 'app-1a2b.js'), 'console.log("app")');
  app = await startApp({ env: { NODE_ENV: 'production', WEB_DIST_DIR: web } });
});
afterAll(async () => {
  await app?.stop();
  rmSync(web, { recursive: true, force: true });
});

it('serves index.html with a strict CSP, and for client-side routes', async () => {
  for (const path of ['/', '/sessions', '/settings/security']) {
    const res = await fetch(`${app.url}${path}`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(await res.text()).toContain('<title>Tessera</title>');
  }
});

it('serves hashed assets as immutable, 404s missing files, refuses to leave the folder', async () => {
  const asset = await fetch(`${app.url}/assets/app-1a2b.js`);
  expect(asset.status).toBe(200);
  expect(asset.headers.get('content-type')).toContain('text/javascript');
  expect(asset.headers.get('cache-control')).toContain('immutable');
  expect((await fetch(`${app.url}/assets/missing.js`)).status).toBe(404);
  for (const path of [
    '/..%2f..%2fetc%2fpasswd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/assets/..%2f..%2f..%2fpackage.json',
  ]) {
    const res = await fetch(`${app.url}${path}`);
    expect(res.status).toBe(404);
  }
  // The API is still the API.
  expect((await fetch(`${app.url}/trpc/auth.me`)).status).toBe(401);
});

it('serves the app at the root whatever the Accept header; other paths need a browser navigation', async () => {
  // curl and fetch send `Accept: */*`; a client may ask for JSON. The root is the site either way.
  for (const accept of [null, '*/*', 'application/json']) {
    const res = await fetch(`${app.url}/`, accept === null ? {} : { headers: { accept } });
    expect(res.status, `Accept: ${accept}`).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('<title>Tessera</title>');
  }
  expect((await fetch(`${app.url}/?from=mail`, { headers: { accept: '*/*' } })).status).toBe(200);
  // A client-side route fetched without text/html, or a missing asset, stays a plain 404.
  for (const [path, accept] of [
    ['/sessions', '*/*'],
    ['/api/users', 'application/json'],
    ['/favicon.ico', 'text/html'],
  ] as const) {
    const res = await fetch(`${app.url}${path}`, { headers: { accept } });
    expect(res.status, path).toBe(404);
    expect(await res.json()).toEqual({ error: 'Not found' });
  }
});
