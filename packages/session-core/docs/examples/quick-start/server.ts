// server.ts: sign in, a signed-in page and logout over plain node:http (any framework is alike)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readCookie, SessionStoreError, serializeCookie } from '@tessera/session-core';
import { sessions } from './sessions.js';

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'POST' && req.url === '/sign-in') {
    // ...once the password (and any second factor) checked out for this user:
    const { cookie } = await sessions.create({
      userId: 'user-1',
      data: { role: 'user' },
      userAgent: req.headers['user-agent'],
      ip: req.socket.remoteAddress,
    });
    res.setHeader('set-cookie', serializeCookie(cookie));
    res.end('signed in\n');
    return;
  }
  // Every other request: one store round trip checks both deadlines and slides the idle one.
  const read = readCookie(req.headers.cookie, sessions.cookieName);
  const result = await sessions.validate(read.status === 'found' ? read.value : null);
  // Set when the token rotated on this request, or to clear a dead one.
  if (result.cookie) res.setHeader('set-cookie', serializeCookie(result.cookie));
  if (!result.session) {
    res.statusCode = 401;
    res.end(`signed out: ${result.reason}\n`); // 'missing', 'idle_timeout', 'revoked', 'logged_out', ...
    return;
  }
  if (req.method === 'POST' && req.url === '/logout') {
    const { cookie } = await sessions.logout(result.token); // the token in force, never the cookie's
    res.setHeader('set-cookie', serializeCookie(cookie));
    res.end('signed out\n');
    return;
  }
  res.end(`hello ${result.session.userId}\n`);
}

createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    // The store can't answer (validate and create both throw SessionStoreError then): refuse the
    // request, never treat the user as signed out. Fail closed.
    const down = error instanceof SessionStoreError;
    if (!down) console.error(error);
    res.statusCode = down ? 503 : 500;
    res.end(down ? 'try again shortly\n' : 'internal error\n');
  });
}).listen(Number(process.env.PORT ?? 3000));
