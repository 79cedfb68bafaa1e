/**
 * One framing per response (issue 9, defect 4; RFC 9112 6.1-6.3): a response carries either
 * Content-Length or Transfer-Encoding: chunked, never both (a proxy that reads the other one than
 * the next hop desynchronises; Node's own fetch refuses such a response). The /trpc route never
 * copies tRPC's hop-by-hop headers onto the reply; a streamed JSONL batch (`trpc-accept:
 * application/jsonl`, tRPC's httpBatchStreamLink) is refused cleanly, because a procedure's
 * Set-Cookie can't ride a response whose head has already gone out. Checked over real HTTP with a
 * raw socket, so nothing normalises the head before the test reads it.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp, uniqueEmail } from '../helpers/app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

interface RawHead {
  status: number;
  /** Every header line, name lower-cased, in order (repeats kept). */
  headers: [string, string][];
}

/**
 * Sends `GET <path>` on a fresh connection and returns the response head as it came off the wire.
 * Reads until the end of the head only, so it also works on a stream that never ends (SSE).
 */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<RawHead> {
  const { port } = new URL(app.url);
  const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () =>
      socket.write(`${lines.join('\r\n')}\r\n\r\n`),
    );
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response head within 5 s: ${data}`));
    }, 5_000);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      socket.destroy();
      const [statusLine = '', ...rest] = data.slice(0, end).split('\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0),
        headers: rest.map((line) => {
          const i = line.indexOf(':');
          return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()];
        }),
      });
    });
    socket.on('error', reject);
  });
}

const named = (head: RawHead, name: string) => head.headers.filter(([n]) => n === name).map(([, v]) => v);

/** Exactly one way to find the end of the body. */
function expectOneFraming(head: RawHead, label: string) {
  const lengths = named(head, 'content-length');
  const encodings = named(head, 'transfer-encoding');
  expect(lengths.length + encodings.length, `${label}: ${JSON.stringify(head.headers)}`).toBe(1);
  for (const hop of ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection']) {
    expect(named(head, hop), `${label}: hop-by-hop ${hop}`).toEqual([]);
  }
  return lengths.length === 1 ? 'length' : 'chunked';
}

describe('one framing per /trpc response', () => {
  const batch = '/trpc/health.check,health.check?batch=1';

  it.each([
    ['trpc-accept: application/jsonl', { 'trpc-accept': 'application/jsonl' }],
    ['Accept: application/jsonl', { accept: 'application/jsonl' }],
  ])('a streamed (JSONL) batch asked with %s: one framing, refused cleanly', async (_label, headers) => {
    const head = await rawGet(batch, headers);
    expectOneFraming(head, 'jsonl');
    expect(head.status).toBe(400);
    // Node's fetch (undici) refuses a response with both framings; this one it reads.
    const res = await fetch(`${app.url}${batch}`, { headers });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { data: Record<string, unknown> } };
    expect(body.error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
  });

  it('a plain JSON batch: Content-Length only', async () => {
    const head = await rawGet(batch);
    expect(head.status).toBe(200);
    expect(expectOneFraming(head, 'batch')).toBe('length');
    const res = await fetch(`${app.url}${batch}`);
    expect(await res.json()).toEqual([
      { result: { data: { status: 'ok' } } },
      { result: { data: { status: 'ok' } } },
    ]);
  });

  it('the session-ended stream (SSE): chunked only, and fetch reads it', async () => {
    const c = await app.signedIn(uniqueEmail());
    const head = await rawGet('/trpc/events.onSessionEnded', {
      cookie: c.cookieHeader(),
      accept: 'text/event-stream',
    });
    expect(head.status).toBe(200);
    expect(named(head, 'content-type')[0]).toMatch(/^text\/event-stream/);
    expect(expectOneFraming(head, 'sse')).toBe('chunked');
    // tRPC's own `Connection: keep-alive` is not copied over what this connection negotiated (close).
    expect(named(head, 'connection')).toEqual(['close']);
    expect(named(head, 'cache-control')).toEqual(['no-store']);
    const abort = new AbortController();
    const res = await c.fetch('/trpc/events.onSessionEnded', {
      signal: abort.signal,
      headers: { accept: 'text/event-stream' },
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('event: connected');
    abort.abort();
  });
});
