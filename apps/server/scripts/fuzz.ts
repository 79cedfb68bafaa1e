/**
 * `pnpm fuzz [--requests 10000] [--seed 42] [--clients 8]` (or FUZZ_REQUESTS, FUZZ_SEED): throws
 * random and mutated requests at the built server (on a private Redis and a fresh PostgreSQL
 * database) and checks that none gets a 5xx, except a 503 while the session store is deliberately
 * down (Redis is killed for the middle tenth of the run and brought back), and that the server is
 * still alive and healthy afterwards (/healthz, /readyz, a real sign-in).
 *
 * Requests are generated with fast-check from a seed (reproducible): real procedures and mangled
 * names, batches, every method, `input` query strings and bodies that are valid, mutated (flipped,
 * truncated, duplicated, deeply nested, huge, invalid UTF-8), or random; hostile headers (content
 * types, origins, fetch metadata, X-Forwarded-For) and cookies (live tokens, mutated tokens,
 * duplicates, 12 KB junk, the MFA cookie); and some raw bytes that are not valid HTTP at all.
 * test/hostile/fuzz.test.ts runs it with 1,500 requests in CI.
 */
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { PASSWORD } from '../test/helpers/defaults.js';
import { TEST_ORIGIN } from '../test/helpers/http.js';
import { sleep, waitFor } from '../test/helpers/load.js';
import { procedures } from '../test/security/procedures.js';
import { option, type Stack, startStack } from './lib/stack.js';

export interface FuzzOptions {
  requests: number;
  seed?: number;
  clients?: number;
  /** Kill Redis for the middle tenth of the run (503s allowed then). Default true. */
  storeOutage?: boolean;
  log?: (line: string) => void;
}

export interface FuzzReport {
  requests: number;
  seed: number;
  statuses: Record<string, number>;
  /** 5xx responses outside the deliberate outage: must be empty. */
  serverErrors: { request: string; status: number }[];
  /** Requests sent while Redis was down, and what they got. */
  outage: { requests: number; statuses: Record<string, number> };
  /** Server log lines at level error (a procedure that failed): must be empty. */
  errorLogs: string[];
  healthyAfter: boolean;
  durationMs: number;
}

/** A request template; `cookie` and `body` may name live values filled in at send time. */
interface Template {
  kind: 'http' | 'raw';
  method: string;
  path: string;
  headers: Record<string, string>;
  cookie: 'none' | 'live' | 'mutated' | 'duplicate' | 'junk' | 'mfa' | 'other';
  body: string | null;
  raw?: string;
}

const PROCS = procedures();
const NAMES = PROCS.map((p) => p.path);

// -- generators ------------------------------------------------------------------------------------

const mangle = (s: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant(s),
    fc.integer({ min: 0, max: Math.max(0, s.length - 1) }).map((i) => s.slice(0, i)),
    fc
      .tuple(fc.integer({ min: 0, max: s.length }), fc.string({ maxLength: 4, unit: 'binary' }))
      .map(([i, x]) => s.slice(0, i) + x + s.slice(i)),
    fc.integer({ min: 0, max: Math.max(0, s.length - 1) }).map((i) => s.slice(0, i) + s.slice(i + 1)),
    fc.constant(s.toUpperCase()),
    fc.constant(s + s),
  );

const plausibleInput = fc.record(
  {
    email: fc.oneof(fc.emailAddress(), fc.constant('fuzz-user@example.com')),
    password: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(PASSWORD)),
    currentPassword: fc.string({ maxLength: 40 }),
    newPassword: fc.string({ minLength: 8, maxLength: 80 }),
    code: fc.stringMatching(/^\d{6}$/),
    sessionId: fc.stringMatching(/^[A-Za-z0-9_-]{26}$/),
    ticket: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    revokeSessionId: fc.stringMatching(/^[A-Za-z0-9_-]{26}$/),
    userId: fc.uuid(),
    role: fc.constantFrom('user', 'admin', 'root'),
    revokeOtherSessions: fc.boolean(),
    limit: fc.integer({ min: -1, max: 600 }),
    offset: fc.integer({ min: -1, max: 1000 }),
  },
  { requiredKeys: [] },
);

const jsonText = fc.oneof(
  { weight: 4, arbitrary: plausibleInput.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: plausibleInput.map((v) => JSON.stringify({ 0: v, 1: v })) },
  { weight: 2, arbitrary: plausibleInput.chain((v) => mangle(JSON.stringify(v))) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 90_000 }).map((n) => JSON.stringify({ email: 'x'.repeat(n) })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'null',
      '{',
      '{"a":1e400}',
      '{"__proto__":{"x":1}}',
      '"\\ud800"',
      '\u0000',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'application/JSON',
      '',
      'application/json; charset=latin1',
    ),
  },
);

const pathArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES) },
  {
    weight: 1,
    arbitrary: fc.array(fc.constantFrom(...NAMES), { minLength: 2, maxLength: 4 }).map((p) => p.join(',')),
  },
  { weight: 1, arbitrary: fc.constantFrom(...NAMES).chain(mangle) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      '%2e%2e',
      'auth',
      'auth.',
      '.me',
      'x'.repeat(5000),
      '__proto__.x',
      'auth.me/../x',
    ),
  },
);

const template: fc.Arbitrary<Template> = fc.oneof(
  {
    weight: 19,
    arbitrary: fc
      .record({
        method: fc.oneof(
          { weight: 8, arbitrary: fc.constant('natural') },
          { weight: 2, arbitrary: fc.constantFrom('GET', 'POST') },
          { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
        ),
        path: pathArb,
        batch: fc.boolean(),
        input: fc.option(jsonText, { nil: null }),
        body: jsonText,
        contentType,
        origin: fc.oneof(
          { weight: 5, arbitrary: fc.constant(TEST_ORIGIN) },
          { weight: 1, arbitrary: fc.constantFrom('https://evil.example', 'null', '') },
        ),
        site: fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(null, 'same-origin') },
          { weight: 1, arbitrary: fc.constantFrom('cross-site', 'same-site', 'none') },
        ),
        forwarded: fc.option(fc.constantFrom('1.2.3.4', 'garbage', '::1, 10.0.0.1', 'x'.repeat(2000)), {
          nil: null,
        }),
        accept: fc.constantFrom(null, 'text/event-stream', '*/*'),
        cookie: fc.constantFrom(
          'none',
          'live',
          'live',
          'live',
          'mutated',
          'duplicate',
          'junk',
          'mfa',
          'other',
        ),
        otherQuery: fc.option(
          fc.constantFrom('a=b', 'batch=0', 'batch=1&batch=2', 'input', 'input=', '%ZZ'),
          { nil: null },
        ),
      })
      .map((drawn) => {
        // The method a client would use for this procedure (GET for queries, POST for mutations).
        const type = PROCS.find((p) => p.path === drawn.path.split(',')[0])?.type;
        const natural = type === 'mutation' ? 'POST' : 'GET';
        const r = { ...drawn, method: drawn.method === 'natural' ? natural : drawn.method };
        const query = [
          r.batch ? 'batch=1' : null,
          r.input !== null && r.method !== 'POST' ? `input=${encodeURIComponent(r.input)}` : null,
          r.otherQuery,
        ]
          .filter(Boolean)
          .join('&');
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.origin) headers.origin = r.origin;
        if (r.site) headers['sec-fetch-site'] = r.site;
        if (r.forwarded) headers['x-forwarded-for'] = r.forwarded;
        if (r.accept) headers.accept = r.accept;
        return {
          kind: 'http' as const,
          method: r.method,
          path: `/trpc/${r.path}${query ? `?${query}` : ''}`,
          headers,
          cookie: r.cookie as Template['cookie'],
          body: ['GET', 'HEAD', 'OPTIONS'].includes(r.method) ? null : r.body,
        };
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        'GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nCookie: __Host-tessera=\u00ff\u0000x\r\n\r\n',
        'GET /trpc/auth.me HTTP/1.1\r\n\r\n',
        'GET /trpc/auth.me HTTP/1.0\r\n\r\n',
        'POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n',
        `GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        'GARBAGE\r\n\r\n',
        'GET /\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
        `GET /trpc/${'a,'.repeat(3000)}b?batch=1 HTTP/1.1\r\nHost: x\r\n\r\n`,
        'POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":',
      )
      .map((raw) => ({
        kind: 'raw' as const,
        method: 'RAW',
        path: raw.split('\r\n')[0]!.slice(0, 60),
        headers: {},
        cookie: 'none' as const,
        body: null,
        raw,
      })),
  },
);

// -- running ---------------------------------------------------------------------------------------

/** Sends raw bytes; resolves to the status code, or 0 when the server closed without a response. */
function sendRaw(url: string, raw: string): Promise<number> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(Buffer.from(raw, 'latin1')));
    let data = '';
    const done = () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0));
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}/.test(data)) socket.destroy();
    });
    socket.on('close', done);
    socket.on('error', () => {});
    socket.setTimeout(3_000, () => socket.destroy());
  });
}

async function sessionsFor(stack: Stack, emails: string[]): Promise<string[]> {
  const tokens: string[] = [];
  for (const email of emails) {
    const c = stack.server.client();
    const r = await c.mutation('auth.login', { email, password: PASSWORD }).catch(() => null);
    if (r?.status === 200 && c.sessionToken) tokens.push(c.sessionToken);
  }
  return tokens;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const seed = options.seed ?? Date.now() % 2_147_483_647;
  const clients = options.clients ?? 8;
  const started = performance.now();
  const stack = await startStack({ env: { LOG_LEVEL: 'warn', SESSION_MAX_PER_USER: '50' } });
  try {
    const emails = ['fuzz-user@example.com', 'fuzz-admin@example.com', 'fuzz-other@example.com'];
    await stack.admin.create(emails[0]!);
    await stack.admin.create(emails[1]!, { role: 'admin' });
    await stack.admin.create(emails[2]!);
    let live = await sessionsFor(stack, [...emails, ...emails]);
    const templates = fc.sample(template, { seed, numRuns: options.requests });
    log(
      `fuzz: ${options.requests} requests, seed ${seed}, ${clients} clients, server pid ${stack.server.pid}`,
    );

    const statuses: Record<string, number> = {};
    const serverErrors: FuzzReport['serverErrors'] = [];
    const outage = { requests: 0, statuses: {} as Record<string, number> };
    let storeDown = false;
    /** [from, to] (performance.now) of the deliberate outage: a request overlapping it may get a 503. */
    const outageSpan = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
    const fivexx: { request: string; status: number; start: number; end: number }[] = [];
    const outageFrom = Math.floor(options.requests * 0.45);
    const outageTo = Math.floor(options.requests * 0.55);
    let next = 0;

    const send = async (t: Template): Promise<number> => {
      if (t.kind === 'raw') return sendRaw(stack.server.url, t.raw!);
      const token = live[Math.floor(Math.random() * live.length)] ?? '';
      const cookie = {
        none: null,
        live: `__Host-tessera=${token}`,
        mutated: `__Host-tessera=${token.slice(0, 30)}${token.at(30) === 'A' ? 'B' : 'A'}${token.slice(31)}`,
        duplicate: `__Host-tessera=${token}; __Host-tessera=${token}`,
        junk: `__Host-tessera=${'j'.repeat(12_000)}`,
        mfa: `__Host-tessera-mfa=${token.slice(27)}`,
        other: `a=b; tessera=${token}; __Secure-tessera=${token}`,
      }[t.cookie];
      const headers = { ...t.headers, ...(cookie ? { cookie } : {}) };
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 5_000);
      try {
        const res = await fetch(`${stack.server.url}${t.path}`, {
          method: t.method,
          headers,
          body: t.body,
          signal: abort.signal,
        });
        // An event stream of a live session stays open: its status is what counts.
        if (res.headers.get('content-type')?.includes('text/event-stream')) abort.abort();
        else await res.arrayBuffer();
        return res.status;
      } catch (error) {
        if ((error as Error).name === 'AbortError') return -1; // timed out: recorded apart
        return 0;
      } finally {
        clearTimeout(timer);
      }
    };

    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= templates.length) return;
        if (options.storeOutage !== false && i === outageFrom) {
          storeDown = true;
          outageSpan.from = performance.now();
          await stack.redis.kill();
        }
        if (options.storeOutage !== false && i === outageTo && storeDown) {
          await stack.redis.start();
          await waitFor(async () => (await fetch(`${stack.server.url}/readyz`)).status === 200, 15_000, 100);
          live = await sessionsFor(stack, [...emails, ...emails]); // Redis came back empty
          storeDown = false;
          outageSpan.to = performance.now();
        }
        const t = templates[i]!;
        const duringOutage = storeDown;
        const start = performance.now();
        const status = await send(t);
        const end = performance.now();
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (duringOutage) {
          outage.requests++;
          outage.statuses[status] = (outage.statuses[status] ?? 0) + 1;
        }
        if (status >= 500) {
          const request = `${t.method} ${t.path.slice(0, 120)} ${t.body?.slice(0, 120) ?? ''}`;
          fivexx.push({ request, status, start, end });
        }
        if (i % 1000 === 999) {
          live = (await sessionsFor(stack, emails)).concat(live).slice(0, 6);
          log(`  ${i + 1} sent; statuses so far ${JSON.stringify(statuses)}`);
        }
      }
    };
    // The outage switch runs inside a worker; the others keep sending meanwhile.
    await Promise.all(Array.from({ length: clients }, worker));
    await sleep(200);
    // A 503 is the deliberate one only if the request overlapped the outage.
    for (const e of fivexx) {
      const overlaps = e.end >= outageSpan.from && e.start <= outageSpan.to;
      if (!(e.status === 503 && overlaps)) serverErrors.push({ request: e.request, status: e.status });
    }

    const healthz = await fetch(`${stack.server.url}/healthz`).catch(() => null);
    const readyz = await fetch(`${stack.server.url}/readyz`).catch(() => null);
    const signIn = await stack.server
      .client()
      .mutation('auth.login', { email: emails[0]!, password: PASSWORD })
      .catch(() => null);
    const healthyAfter =
      stack.server.alive() && healthz?.status === 200 && readyz?.status === 200 && signIn?.status === 200;
    const errorLogs = stack.server.logs.filter((l) => l.includes('"level":50') || l.includes('"level":60'));
    const report: FuzzReport = {
      requests: options.requests,
      seed,
      statuses,
      serverErrors,
      outage,
      errorLogs,
      healthyAfter,
      durationMs: performance.now() - started,
    };
    log(
      [
        `statuses: ${JSON.stringify(statuses)} (0: connection closed without a response, for invalid HTTP; -1: an open event stream cut after 5 s)`,
        `while Redis was down: ${outage.requests} requests, ${JSON.stringify(outage.statuses)}`,
        `5xx outside the outage: ${serverErrors.length}${serverErrors.length ? ` ${JSON.stringify(serverErrors.slice(0, 5))}` : ''}`,
        `error-level server logs: ${errorLogs.length}${errorLogs.length ? `\n${errorLogs.slice(0, 3).join('\n')}` : ''}`,
        `healthy after: ${healthyAfter} (alive ${stack.server.alive()}, /healthz ${healthz?.status}, /readyz ${readyz?.status}, sign-in ${signIn?.status})`,
        `fuzz ${serverErrors.length === 0 && errorLogs.length === 0 && healthyAfter ? 'PASSED' : 'FAILED'} in ${(report.durationMs / 1000).toFixed(1)} s (seed ${seed})`,
      ].join('\n'),
    );
    return report;
  } finally {
    await stack.stop();
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const requests = Number(option(argv, 'requests', process.env.FUZZ_REQUESTS, '10000'));
  const seedArg = option(argv, 'seed', process.env.FUZZ_SEED, '');
  const clients = Number(option(argv, 'clients', process.env.FUZZ_CLIENTS, '8'));
  const report = await runFuzz({ requests, clients, ...(seedArg ? { seed: Number(seedArg) } : {}) });
  process.exit(
    report.serverErrors.length === 0 && report.errorLogs.length === 0 && report.healthyAfter ? 0 : 1,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `fuzz failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
