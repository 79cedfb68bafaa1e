/**
 * The /trpc route (http/trpc-route.ts) hands tRPC's `resolveResponse` a stand-in for the Fetch
 * `Request` and writes the request's ResponseState onto the reply itself. This runs one corpus of
 * requests, over real HTTP, through that route (bare: no guard, batch bound or request limit) and
 * through tRPC's own Fastify adapter, and compares status, headers, body and what onError saw. A tRPC
 * upgrade that reads another member of the request, or answers differently, fails here.
 * The servers and the router are in helpers/conformance-servers.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  endedCalls,
  onErrorLog,
  type ServerName,
  startAdapterServer,
  startedCalls,
  startRouteServer,
} from './helpers/conformance-servers.js';

/** What a client and the operator see of one request. */
interface Observed {
  status: number;
  /** All but framing; set-cookie as a sorted list. */
  headers: Record<string, string | string[]>;
  /** JSON parsed; JSONL one value per line; SSE one object per event. */
  body: unknown;
  /** `<type> <path> <code>` per onError call. */
  onError: string[];
}

interface Entry {
  name: string;
  method: string;
  /** After /trpc/. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body as a stream (chunked, no Content-Length). */
  chunked?: boolean;
  /** The status both must answer: a corpus entry that both servers get wrong the same way still fails. */
  status: number;
  /** Part of what the adapter answers, checked too, so the entry exercises what its name says. */
  expect?: Partial<Observed>;
  /** A deliberate difference: the route's status and body (each use says why). */
  routeDiffers?: { status: number; body: unknown };
}

const JSON_TYPE = { 'content-type': 'application/json' };
const JSONL = { 'trpc-accept': 'application/jsonl' };
const SSE = { accept: 'text/event-stream' };
const CLEARED = 'tessera=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax';
const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

const corpus: Entry[] = [
  // Success
  {
    name: 'query with input',
    method: 'GET',
    path: `greet?${q({ name: 'Ada' })}`,
    status: 200,
    expect: { headers: { 'content-type': 'application/json' }, body: { result: { data: 'Hello Ada' } } },
  },
  { name: 'query without input', method: 'GET', path: 'noInput', status: 200 },
  {
    name: 'query sees the cookie header, user agent and ip',
    method: 'GET',
    path: 'whoami',
    headers: { cookie: 'a=1; b=2', 'user-agent': 'conformance/1.0' },
    status: 200,
    expect: {
      body: { result: { data: { cookieHeader: 'a=1; b=2', userAgent: 'conformance/1.0', ip: '127.0.0.1' } } },
    },
  },
  {
    name: 'mutation',
    method: 'POST',
    path: 'add',
    headers: JSON_TYPE,
    body: JSON.stringify({ a: 2, b: 3 }),
    status: 200,
  },
  {
    name: 'mutation, content type in odd case with a charset',
    method: 'POST',
    path: 'add',
    headers: { 'content-type': 'Application/JSON; charset=utf-8' },
    body: JSON.stringify({ a: 1, b: 1 }),
    status: 200,
  },
  {
    name: 'mutation with a chunked request body',
    method: 'POST',
    path: 'add',
    headers: JSON_TYPE,
    body: JSON.stringify({ a: 4, b: 5 }),
    chunked: true,
    status: 200,
  },
  { name: 'HEAD', method: 'HEAD', path: 'noInput', status: 204 },
  // Cookies and headers from the ResponseState
  {
    name: 'mutation sets two cookies',
    method: 'POST',
    path: 'signIn',
    headers: JSON_TYPE,
    body: JSON.stringify({ token: 'tok-1' }),
    status: 200,
    expect: {
      headers: {
        'set-cookie': [
          'tessera-mfa=challenge; Path=/; HttpOnly; SameSite=Lax',
          'tessera=tok-1; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax',
        ],
      },
    },
  },
  {
    name: 'mutation clears two cookies',
    method: 'POST',
    path: 'signOut',
    headers: JSON_TYPE,
    status: 200,
    expect: {
      headers: { 'set-cookie': ['tessera-mfa=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax', CLEARED] },
    },
  },
  {
    name: 'refusal that clears a cookie',
    method: 'POST',
    path: 'signOutRefused',
    headers: JSON_TYPE,
    status: 401,
    expect: { headers: { 'set-cookie': [CLEARED] } },
  },
  {
    name: 'createContext queues a cookie',
    method: 'GET',
    path: 'noInput',
    headers: { cookie: 'ctx=cookie' },
    status: 200,
    expect: { headers: { 'set-cookie': [CLEARED] } },
  },
  {
    name: 'TOO_MANY_REQUESTS with Retry-After',
    method: 'POST',
    path: 'throttled',
    headers: JSON_TYPE,
    status: 429,
    expect: { headers: { 'retry-after': '7' }, body: { error: { data: { retryAfter: 7 } } } },
  },
  // Error classes
  { name: 'BAD_REQUEST: invalid input', method: 'GET', path: `greet?${q({ name: '' })}`, status: 400 },
  { name: 'BAD_REQUEST: input is not JSON', method: 'GET', path: 'greet?input=%7Bnope', status: 400 },
  {
    name: 'BAD_REQUEST: malformed JSON body',
    method: 'POST',
    path: 'add',
    headers: JSON_TYPE,
    body: '{"a": 1,',
    status: 400,
  },
  { name: 'BAD_REQUEST: missing body', method: 'POST', path: 'add', headers: JSON_TYPE, status: 400 },
  { name: 'BAD_REQUEST: badInput', method: 'POST', path: 'weakPassword', headers: JSON_TYPE, status: 400 },
  { name: 'UNAUTHORIZED', method: 'GET', path: 'needsSession', status: 401 },
  {
    name: 'UNAUTHORIZED with attemptsLeft',
    method: 'POST',
    path: 'wrongCode',
    headers: JSON_TYPE,
    status: 401,
  },
  { name: 'FORBIDDEN', method: 'GET', path: 'adminOnly', status: 403 },
  { name: 'CONFLICT', method: 'POST', path: 'limitReached', headers: JSON_TYPE, status: 409 },
  { name: 'NOT_FOUND: unknown procedure', method: 'GET', path: 'nope', status: 404 },
  { name: 'METHOD_NOT_SUPPORTED: GET on a mutation', method: 'GET', path: 'add', status: 405 },
  {
    name: 'METHOD_NOT_SUPPORTED: POST on a query',
    method: 'POST',
    path: 'greet',
    headers: JSON_TYPE,
    body: JSON.stringify({ name: 'Ada' }),
    status: 405,
  },
  {
    name: 'METHOD_NOT_SUPPORTED: PUT on a mutation',
    method: 'PUT',
    path: 'add',
    headers: JSON_TYPE,
    body: JSON.stringify({ a: 1, b: 2 }),
    status: 405,
  },
  {
    name: 'POST on a subscription (an SSE error event)',
    method: 'POST',
    path: 'count',
    headers: JSON_TYPE,
    body: JSON.stringify({ upTo: 2 }),
    status: 200,
  },
  {
    name: 'UNSUPPORTED_MEDIA_TYPE: text/plain',
    method: 'POST',
    path: 'add',
    headers: { 'content-type': 'text/plain' },
    body: '{"a":1,"b":2}',
    status: 415,
  },
  { name: 'UNSUPPORTED_MEDIA_TYPE: no content type', method: 'POST', path: 'signOut', status: 415 },
  {
    name: 'a body type no parser takes (octet-stream): Fastify refuses it first',
    method: 'POST',
    path: 'add',
    headers: { 'content-type': 'application/octet-stream' },
    body: 'abc',
    status: 415,
  },
  {
    name: 'multipart/form-data',
    method: 'POST',
    path: 'add',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
    status: 400,
    // The one deliberate difference. tRPC's adapter registers a multipart parser and hands the body
    // to procedures whose input is FormData (here: zod refuses it, 400). The route takes JSON only
    // (no procedure of the app has FormData input), so Fastify refuses the type before tRPC; in the
    // app the edge guard refuses any POST that is not JSON before either (guard.ts, CSRF).
    routeDiffers: {
      status: 415,
      body: {
        statusCode: 415,
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        error: 'Unsupported Media Type',
        message: 'Unsupported Media Type',
      },
    },
  },
  { name: 'PRECONDITION_FAILED', method: 'POST', path: 'precondition', headers: JSON_TYPE, status: 412 },
  { name: 'INTERNAL_SERVER_ERROR: a thrown Error', method: 'GET', path: 'bug', status: 500 },
  {
    name: 'SERVICE_UNAVAILABLE: SessionStoreError',
    method: 'GET',
    path: 'storeDown',
    status: 503,
    expect: { body: { error: { data: { code: 'SERVICE_UNAVAILABLE' } } } },
  },
  {
    name: 'SERVICE_UNAVAILABLE: UnavailableError',
    method: 'POST',
    path: 'databaseDown',
    headers: JSON_TYPE,
    status: 503,
  },
  {
    name: 'createContext throws',
    method: 'GET',
    path: `greet?${q({ name: 'Ada' })}`,
    headers: { cookie: 'ctx=throw' },
    status: 500,
  },
  {
    name: 'createContext: store unavailable',
    method: 'POST',
    path: 'add',
    headers: { ...JSON_TYPE, cookie: 'ctx=unavailable' },
    body: JSON.stringify({ a: 1, b: 2 }),
    status: 503,
  },
  // Batches
  {
    name: 'GET batch of 2 queries',
    method: 'GET',
    path: `greet,whoami?batch=1&${q({ 0: { name: 'Ada' } })}`,
    status: 200,
  },
  {
    name: 'GET batch, percent-encoded comma',
    method: 'GET',
    path: `greet%2Cgreet?batch=1&${q({ 0: { name: 'A' }, 1: { name: 'B' } })}`,
    status: 200,
  },
  {
    name: 'POST batch of 2 mutations',
    method: 'POST',
    path: 'add,signIn?batch=1',
    headers: JSON_TYPE,
    body: JSON.stringify({ 0: { a: 1, b: 2 }, 1: { token: 'tok-2' } }),
    status: 200,
  },
  {
    name: 'mixed batch: success and error (207)',
    method: 'GET',
    path: `greet,adminOnly,nope?batch=1&${q({ 0: { name: 'Ada' } })}`,
    status: 207,
  },
  {
    name: 'batch of errors of one class',
    method: 'GET',
    path: 'needsSession,needsSession?batch=1',
    status: 401,
  },
  {
    name: 'batch with an input that is not an object',
    method: 'POST',
    path: 'add,add?batch=1',
    headers: JSON_TYPE,
    body: '[1,2]',
    status: 400,
  },
  // JSONL (the app's edge guard refuses it before the route; here the bare route must match tRPC)
  {
    name: 'JSONL batch of queries',
    method: 'GET',
    path: `greet,whoami?batch=1&${q({ 0: { name: 'Ada' } })}`,
    headers: JSONL,
    status: 200,
  },
  {
    name: 'JSONL batch with an error',
    method: 'GET',
    path: `greet,storeDown,nope?batch=1&${q({ 0: { name: 'Ada' } })}`,
    headers: JSONL,
    status: 200,
  },
  {
    name: 'JSONL asked for through Accept',
    method: 'POST',
    path: 'add,add?batch=1',
    headers: { ...JSON_TYPE, accept: 'application/jsonl' },
    body: JSON.stringify({ 0: { a: 1, b: 1 }, 1: { a: 2, b: 2 } }),
    status: 200,
  },
  {
    name: 'JSONL without a batch',
    method: 'GET',
    path: `greet?${q({ name: 'Ada' })}`,
    headers: JSONL,
    status: 400,
  },
  // A streamed answer sends its head (and so its cookies) before the procedures are done: what both
  // write is what was queued by then. These two queue theirs without waiting on anything.
  {
    name: 'JSONL batch of mutations that set cookies',
    method: 'POST',
    path: 'signIn,signOut?batch=1',
    headers: { ...JSON_TYPE, ...JSONL },
    body: JSON.stringify({ 0: { token: 'tok-3' } }),
    status: 200,
  },
  // Subscriptions (SSE)
  {
    name: 'SSE: three values then return',
    method: 'GET',
    path: `count?${q({ upTo: 3 })}`,
    headers: SSE,
    status: 200,
    expect: {
      headers: { 'content-type': 'text/event-stream' },
      body: [
        { event: 'connected', data: { reconnectAfterInactivityMs: 20_000 } },
        { data: { n: 1 } },
        { data: { n: 2 } },
        { data: { n: 3 } },
        { event: 'return', data: '' },
      ],
    },
  },
  {
    name: 'SSE: tracked events resume from Last-Event-Id',
    method: 'GET',
    path: 'ticks',
    headers: { ...SSE, 'last-event-id': '5' },
    status: 200,
    expect: { body: [{ event: 'connected' }, { id: '6' }, { id: '7' }, { event: 'return' }] },
  },
  {
    name: 'SSE: tracked events resume from ?lastEventId=',
    method: 'GET',
    path: 'ticks?lastEventId=9',
    headers: SSE,
    status: 200,
  },
  {
    name: 'SSE: invalid input (an error event)',
    method: 'GET',
    path: `count?${q({ upTo: 99 })}`,
    headers: SSE,
    status: 200,
  },
  { name: 'SSE: the generator throws', method: 'GET', path: 'failingStream', headers: SSE, status: 200 },
  {
    name: 'SSE: createContext throws',
    method: 'GET',
    path: `count?${q({ upTo: 1 })}`,
    headers: { ...SSE, cookie: 'ctx=throw' },
    status: 200,
  },
  {
    name: 'SSE: a subscription in a batch',
    method: 'GET',
    path: `count,count?batch=1&${q({ 0: { upTo: 1 }, 1: { upTo: 1 } })}`,
    status: 400,
  },
];

/** Framing of one connection: differs by design (the route strips hop-by-hop, Node frames itself). */
const FRAMING = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** Drops `stack` from every error shape's data (there is none unless formatError exposes it). */
function withoutStacks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutStacks);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'stack') out[k] = withoutStacks(v);
  return out;
}

const parseJson = (text: string): unknown => {
  try {
    return withoutStacks(JSON.parse(text));
  } catch {
    return { unparsed: text };
  }
};

/** SSE events as { event, data (parsed), id }, in order. */
function parseSse(text: string) {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event: Record<string, unknown> = {};
      for (const line of block.split('\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        event[field] = field === 'data' && value !== '' ? parseJson(value) : value;
      }
      return event;
    });
}

function parseBody(text: string, contentType: string | null, entry: Entry): unknown {
  if (text === '') return '';
  if (contentType?.startsWith('text/event-stream')) return parseSse(text);
  const jsonl = entry.headers?.['trpc-accept'] ?? entry.headers?.accept;
  // tRPC's JSONL answer is one JSON value per line (its content type stays application/json).
  if (jsonl === 'application/jsonl') return text.split('\n').filter(Boolean).map(parseJson);
  return parseJson(text);
}

async function observe(server: ServerName, base: string, entry: Entry): Promise<Observed> {
  onErrorLog[server].length = 0;
  let body: RequestInit['body'] = entry.body;
  if (entry.chunked && entry.body !== undefined) {
    const bytes = new TextEncoder().encode(entry.body);
    body = new ReadableStream({
      start(controller) {
        controller.enqueue(bytes.slice(0, 3));
        controller.enqueue(bytes.slice(3));
        controller.close();
      },
    });
  }
  const res = await fetch(`${base}/trpc/${entry.path}`, {
    method: entry.method,
    headers: entry.headers,
    body,
    ...(entry.chunked ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of res.headers) {
    if (FRAMING.has(name) || name === 'set-cookie') continue;
    headers[name] = value;
  }
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies.sort();
  return {
    status: res.status,
    headers,
    body: parseBody(text, res.headers.get('content-type'), entry),
    onError: [...onErrorLog[server]],
  };
}

const servers: Record<ServerName, { close: () => Promise<void>; url: string }> = {} as never;

beforeAll(async () => {
  const [route, adapter] = await Promise.all([startRouteServer(), startAdapterServer()]);
  servers.route = { url: route.url, close: () => route.app.close() };
  servers.adapter = { url: adapter.url, close: () => adapter.app.close() };
});
afterAll(async () => {
  await Promise.all([servers.route?.close(), servers.adapter?.close()]);
});

describe('the /trpc route answers as tRPC’s Fastify adapter does', () => {
  it('the corpus holds every status class, each name once', () => {
    const statuses = new Set(corpus.map((e) => e.status));
    for (const status of [200, 204, 207, 400, 401, 403, 404, 405, 409, 412, 415, 429, 500, 503]) {
      expect(statuses, `an entry answered ${status}`).toContain(status);
    }
    expect(new Set(corpus.map((e) => e.name)).size).toBe(corpus.length);
  });

  it.each(corpus.map((entry) => [entry.name, entry] as const))('%s', async (_name, entry) => {
    const adapter = await observe('adapter', servers.adapter.url, entry);
    const route = await observe('route', servers.route.url, entry);
    expect(adapter.status, 'the adapter answers the status the corpus expects').toBe(entry.status);
    if (entry.expect) expect(adapter).toMatchObject(entry.expect);
    if (entry.routeDiffers) {
      expect({ status: route.status, body: route.body }).toEqual(entry.routeDiffers);
      return;
    }
    // One object, so a failure shows every difference at once.
    expect(route).toEqual(adapter);
  });
});

/** Polls until `key` is in `set` (or 5 s passed). */
async function settles(set: Set<string>, key: string): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (!set.has(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return set.has(key);
}

const newId = () => `abandoned-${Math.random().toString(36).slice(2)}`;

describe('a client that leaves aborts the call on both servers', () => {
  /** Opens `forever`, reads its first value, then aborts the request. */
  async function abandonSubscription(server: ServerName) {
    const id = newId();
    const key = `${server}:${id}`;
    const abort = new AbortController();
    const res = await fetch(`${servers[server].url}/trpc/forever?${q({ id })}`, {
      headers: SSE,
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('data: "first"')) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`stream ended early: ${text}`);
      text += decoder.decode(chunk.value, { stream: true });
    }
    const started = startedCalls.has(key);
    // Still running while the client is there.
    await new Promise((r) => setTimeout(r, 50));
    const endedEarly = endedCalls.has(key);
    abort.abort();
    return { started, endedEarly, ended: await settles(endedCalls, key) };
  }

  /** Calls `slow`, which answers only once aborted, and leaves while it waits. */
  async function abandonQuery(server: ServerName) {
    const id = newId();
    const key = `${server}:${id}`;
    const abort = new AbortController();
    const call = fetch(`${servers[server].url}/trpc/slow?${q({ id })}`, { signal: abort.signal }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    const started = await settles(startedCalls, key);
    await new Promise((r) => setTimeout(r, 50));
    const endedEarly = endedCalls.has(key);
    abort.abort();
    expect(await call).toBe('AbortError');
    return { started, endedEarly, ended: await settles(endedCalls, key) };
  }

  it.each(['adapter', 'route'] as const)(
    '%s: an SSE subscription’s generator runs its finally',
    async (server) => {
      expect(await abandonSubscription(server)).toEqual({ started: true, endedEarly: false, ended: true });
    },
  );

  it.each(['adapter', 'route'] as const)('%s: a query’s signal aborts', async (server) => {
    expect(await abandonQuery(server)).toEqual({ started: true, endedEarly: false, ended: true });
  });
});
