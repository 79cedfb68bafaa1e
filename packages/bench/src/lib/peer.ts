/** Starts the peer app (../peer/app.ts) as a child process on a free port, on the given Redis. */
import { fileURLToPath } from 'node:url';
import { probeImport } from './loop-delay.js';
import { freePort, type Service, startService, waitFor } from './processes.js';

export interface Peer {
  url: string;
  pid: number;
  service: Service;
  /** Signs in through POST /login; returns the `Cookie` header value. */
  login(userId: string, role: string, userAgent?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPeer(redisUrl: string): Promise<Peer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = fileURLToPath(new URL('../peer/app.js', import.meta.url));
  // Same runtime as the bench and the Tessera server (see tessera.ts), so both sides run on one Node.
  const service = startService('peer', process.execPath, [...probeImport(), app], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'production',
      PORT: String(port),
      REDIS_URL: redisUrl,
    },
    ipc: true,
  });
  await waitFor(`peer at ${url}`, async () => (await fetch(`${url}/public/me`)).status === 200, { service });
  return {
    url,
    pid: service.pid,
    service,
    async login(userId, role, userAgent = 'tessera-bench') {
      const response = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify({ userId, role }),
      });
      if (response.status !== 200) throw new Error(`peer login failed (${response.status})`);
      const cookie = response.headers
        .getSetCookie()
        .map((c) => c.split(';')[0]!)
        .find((c) => c.startsWith('sid='));
      if (!cookie) throw new Error('peer login set no cookie');
      return cookie;
    },
    stop: () => service.stop(),
  };
}
