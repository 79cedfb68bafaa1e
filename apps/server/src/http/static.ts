/**
 * Serves the built SPA (apps/web/dist) in production: one process, one origin. Hashed assets are
 * cached for a year; index.html is revalidated every time and is the fallback for client-side routes.
 * No directory listing; paths are confined to the folder.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

async function fileIn(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const path = normalize(join(root, decoded));
  if (path !== root && !path.startsWith(root + sep)) return null;
  try {
    return (await stat(path)).isFile() ? path : null;
  } catch {
    return null;
  }
}

export async function staticPlugin(app: FastifyInstance, opts: { root: string }): Promise<void> {
  const root = normalize(opts.root);
  const index = join(root, 'index.html');

  app.get('/*', async (req, reply) => {
    const urlPath = req.url.split('?')[0] ?? '/';
    const file = urlPath === '/' ? null : await fileIn(root, urlPath);
    if (file) {
      const immutable = urlPath.startsWith('/assets/');
      reply
        .header('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.send(createReadStream(file));
    }
    // The root is the app whatever the Accept header: `curl http://host/` (Accept: */*) is someone
    // looking at the site. Any other path is only a client-side route when a browser navigates to it
    // (Accept names text/html): a fetch of a mistyped API path or a missing asset (`/assets/x.js`,
    // `/favicon.ico`) then gets a plain 404, not the app's HTML with 200, which would hide the mistake
    // and, for a script or stylesheet, be parsed as the wrong type.
    if (urlPath !== '/' && (extname(urlPath) !== '' || !(req.headers.accept ?? '').includes('text/html'))) {
      return reply.code(404).send({ error: 'Not found' });
    }
    return reply
      .header('content-type', TYPES['.html'])
      .header('cache-control', 'no-cache')
      .send(createReadStream(index));
  });
}
