/**
 * Serves a Web-standard fetch handler (`(request: Request) => Promise<Response>`, the shape of Hono's
 * `app.fetch`, Next.js route handlers, Bun and Deno) on a real node:http port, so tests of the `./web`
 * helpers go through real HTTP. Every Set-Cookie of the Response reaches the wire as its own header.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function serveFetch(
  handler: (request: Request) => Promise<Response>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value])
        headers.append(name, one);
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers });
    handler(request)
      .then(async (response) => {
        res.statusCode = response.status;
        response.headers.forEach((value, name) => {
          if (name !== 'set-cookie') res.setHeader(name, value);
        });
        const cookies = response.headers.getSetCookie();
        if (cookies.length > 0) res.setHeader('set-cookie', cookies);
        res.end(Buffer.from(await response.arrayBuffer()));
      })
      .catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
