/**
 * Hostile input, property-based (fast-check): whatever a caller sends, no exception escapes as an
 * INTERNAL_SERVER_ERROR (500) and nothing crashes.
 *  - every procedure of the router, through createCaller, as an anonymous caller, a user and an
 *    admin (fresh sessions), with arbitrary values and with objects shaped like the real input whose
 *    fields hold hostile values (huge, unicode, NaN, nested, `__proto__`, wrong types);
 *  - the same over HTTP: arbitrary bodies to every mutation, arbitrary `input` to every query,
 *    batches, and arbitrary Cookie headers;
 *  - the server's own duration parsing (SESSION_IDLE_TIMEOUT, ...): a Config or an EnvError, nothing else.
 * (session-core tests its cookie parser, token decoding and parseDuration the same way.)
 * FUZZ_RUNS scales the number of runs (default 60 per procedure and role); FUZZ_SEED replays the seed a
 * failure printed (fast-check picks a new one each run otherwise).
 */
import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../../src/env.js';
import { createContextInner } from '../../src/trpc/context.js';
import { createCallerFactory } from '../../src/trpc/procedures.js';
import { appRouter } from '../../src/trpc/routers/index.js';
import { startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { TEST_ORIGIN } from '../helpers/http.js';
import { mutations, procedures, queries } from '../security/procedures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
if (process.env.FUZZ_SEED) fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED) });

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const createCaller = createCallerFactory(appRouter);

/** Strings that have broken parsers before. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '__proto__',
    'constructor',
    '{"a":1}',
    '../../etc/passwd',
    '%00',
    "' OR 1=1 --",
    '<script>alert(1)</script>',
    '\ud800',
    'A'.repeat(26),
    `${'A'.repeat(26)}.${'B'.repeat(43)}`,
    '123456',
    'admin',
    'user',
    'a@b.c',
  ),
  fc.integer({ min: 0, max: 5_000 }).map((n) => 'x'.repeat(n)),
);
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, Number.MAX_SAFE_INTEGER + 2, 1e308),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
  fc.anything({ maxDepth: 3 }),
);

/**
 * The fields the real inputs have, each with plausible values (so generated objects get past the
 * first checks and reach the procedure's logic) mixed with hostile ones.
 */
const id26 = fc.stringMatching(/^[A-Za-z0-9_-]{26}$/);
const PLAUSIBLE: Record<string, fc.Arbitrary<unknown>> = {
  email: fc.oneof(fc.emailAddress(), fc.constant('admin@example.com')),
  password: fc.string({ minLength: 1, maxLength: 64 }),
  currentPassword: fc.string({ minLength: 1, maxLength: 64 }),
  newPassword: fc.string({ minLength: 10, maxLength: 140 }),
  code: fc.stringMatching(/^\d{6}$/),
  sessionId: id26,
  ticket: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
  revokeSessionId: id26,
  userId: fc.oneof(fc.uuid(), fc.string({ maxLength: 64 })),
  role: fc.constantFrom('user', 'admin', 'root'),
  revokeOtherSessions: fc.boolean(),
  limit: fc.integer({ min: -5, max: 600 }),
  offset: fc.integer({ min: -5, max: 10_000 }),
};
const shaped = fc.record(
  Object.fromEntries(
    Object.entries(PLAUSIBLE).map(([k, plausible]) => [
      k,
      fc.oneof({ weight: 2, arbitrary: plausible }, { weight: 1, arbitrary: nastyValue }),
    ]),
  ),
  { requiredKeys: [] },
);
const hostileInput = fc.oneof(
  { weight: 3, arbitrary: shaped },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 4, withNullPrototype: true, withBigInt: true }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: shaped.map((o) => Object.assign(JSON.parse('{"__proto__": {"role": "admin"}}'), o)),
  },
);

type Role = 'anonymous' | 'user' | 'admin';

async function callerFor(role: Role) {
  const { deps } = app.runtime;
  if (role === 'anonymous') return createCaller(createContextInner({ deps }));
  const user = await app.createUser(uniqueEmail('prop'), { role });
  const issued = await deps.sessions.create({
    userId: user.id,
    data: { role, authAt: Date.now(), mfa: false },
  });
  return createCaller(createContextInner({ deps, session: issued.session, token: issued.token }));
}

/** Calls `path` with `input`; resolves to the TRPC error code, or 'OK'. Any other throw fails the test. */
async function call(caller: Awaited<ReturnType<typeof callerFor>>, path: string, input: unknown) {
  const [area, name] = path.split('.') as [string, string];
  const fn = (caller as unknown as Record<string, Record<string, (i: unknown) => Promise<unknown>>>)[area]![
    name
  ]!;
  try {
    await fn(input);
    return 'OK';
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    return error.code;
  }
}

describe('every procedure through createCaller: no 500, whatever the input', () => {
  const callable = procedures().filter((p) => p.type !== 'subscription');

  it.each(['anonymous', 'user', 'admin'] as const)(
    'as %s',
    async (role) => {
      const seen = new Map<string, Record<string, number>>();
      for (const { path } of callable) {
        await fc.assert(
          fc.asyncProperty(hostileInput, async (input) => {
            const code = await call(await callerFor(role), path, input);
            const counts = seen.get(path) ?? {};
            counts[code] = (counts[code] ?? 0) + 1;
            seen.set(path, counts);
            expect(code, `${path} as ${role}`).not.toBe('INTERNAL_SERVER_ERROR');
          }),
          { numRuns: RUNS },
        );
      }
      console.log(
        `${role}: ${callable.length} procedures x ${RUNS} inputs: ${[...seen].map(([p, c]) => `${p} ${JSON.stringify(c)}`).join('; ')}`,
      );
    },
    180_000,
  );
});

describe('over HTTP: no 5xx, whatever the body, the input or the cookie', () => {
  const json = fc.jsonValue({ maxDepth: 4 });

  it('arbitrary JSON (and non-JSON) bodies to every mutation', async () => {
    const c = await app.signedIn(uniqueEmail('http-prop'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...mutations()),
        fc.oneof(
          json.map((v) => JSON.stringify(v)),
          fc.record({ 0: json }).map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 200 }),
        ),
        fc.boolean(),
        async (path, body, batch) => {
          const res = await c.clone().fetch(`/trpc/${path}${batch ? '?batch=1' : ''}`, {
            method: 'POST',
            headers: { origin: TEST_ORIGIN, 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
          expect(res.status, `${path} ${body.slice(0, 80)}`).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS * 5 },
    );
  }, 120_000);

  it('arbitrary input to every query, alone and in batches', async () => {
    const c = await app.signedIn(uniqueEmail('http-prop'), { role: 'admin' });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...queries()), { minLength: 1, maxLength: 3 }),
        fc.oneof(
          json.map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 100 }),
        ),
        async (paths, input) => {
          const batch = paths.length > 1 ? 'batch=1&' : '';
          const res = await c.fetch(`/trpc/${paths.join(',')}?${batch}input=${encodeURIComponent(input)}`);
          await res.arrayBuffer();
          expect(res.status, `${paths} ${input.slice(0, 80)}`).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS * 5 },
    );
  }, 120_000);

  it('arbitrary Cookie headers (around a real token or not)', async () => {
    const c = await app.signedIn(uniqueEmail('http-prop'));
    const token = c.sessionToken!;
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)),
      maxLength: 120,
    });
    await fc.assert(
      fc.asyncProperty(
        printable,
        printable,
        fc.constantFrom('', token, token.slice(1), `"${token}"`),
        async (a, b, t) => {
          const res = await fetch(`${app.url}/trpc/auth.me`, {
            headers: { cookie: `${a}; __Host-tessera=${t}${b}` },
          });
          await res.arrayBuffer();
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS * 5 },
    );
  }, 120_000);
});

describe('duration parsing at the server edge', () => {
  it('SESSION_* and RATE_LIMIT_WINDOW: a Config or an EnvError naming the variable, nothing else', () => {
    const keys = [
      'SESSION_IDLE_TIMEOUT',
      'SESSION_ABSOLUTE_TIMEOUT',
      'FRESH_AUTH_WINDOW',
      'RATE_LIMIT_WINDOW',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.oneof(fc.string({ maxLength: 30 }), fc.stringMatching(/^\d{1,20}(ms|s|m|h|d|w)?$/)),
        (key, value) => {
          try {
            const config = parseEnv({
              [key]: value,
              SESSION_ABSOLUTE_TIMEOUT: key === 'SESSION_ABSOLUTE_TIMEOUT' ? value : '1000w',
            });
            expect(Number.isSafeInteger(config.session.idleTimeoutMs)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(EnvError);
            expect((error as EnvError).message).toMatch(/SESSION_|FRESH_|RATE_LIMIT_/);
          }
        },
      ),
      { numRuns: RUNS * 20 },
    );
  });
});
