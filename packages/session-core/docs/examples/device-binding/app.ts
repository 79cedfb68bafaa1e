// app.ts: device-bound sessions (DBSC) in a Fetch handler (Hono, Bun, Deno, Next.js route handlers)

import { PGlite } from '@electric-sql/pglite';
import { createSessionManager } from '@tessera/session-core';
import { pgliteStore } from '@tessera/session-core/pglite';
import { getSession, handleDeviceBinding, writeCookie } from '@tessera/session-core/web';

const store = pgliteStore({ db: new PGlite('./.data/sessions') });
await store.migrate();

export const sessions = createSessionManager({
  store,
  deviceBinding: { origin: 'https://app.example' }, // the origin the browser sees
});

export async function handle(request: Request): Promise<Response> {
  // The two endpoints the browser calls itself: POST /dbsc/register and POST /dbsc/refresh.
  const dbsc = await handleDeviceBinding(sessions, request);
  if (dbsc) return dbsc;

  const headers = new Headers();
  if (new URL(request.url).pathname === '/sign-in') {
    // ...once the password (and any second factor) checked out: the only chance the session gets to bind.
    const issued = await sessions.create({ userId: 'user-1' });
    writeCookie(headers, issued.cookie);
    if (issued.registration) headers.set('Secure-Session-Registration', issued.registration);
    return new Response('signed in\n', { headers });
  }

  // Reads the session cookie and the bound cookie: one store round trip.
  const s = await getSession(sessions, request);
  writeCookie(headers, s.setCookie);
  // 'device_unbound': a bound session without its fresh bound cookie (a copied cookie, say).
  if (!s.session) return new Response(`signed out: ${s.reason}\n`, { status: 401, headers });
  const bound = s.session.deviceBoundAt ? 'bound to this device' : 'a plain session';
  return new Response(`hello ${s.session.userId} (${bound})\n`, { headers });
}
