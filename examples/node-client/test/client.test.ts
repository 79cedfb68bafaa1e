/**
 * Against a real Tessera server (`pnpm start`): examples/run.mjs starts one on a free port with a temp
 * DATA_DIR and creates the account with `pnpm cli users create`, then runs this with
 *   TESSERA_URL, TESSERA_ORIGIN (the server's APP_ORIGIN), TESSERA_EMAIL, TESSERA_PASSWORD.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppRouter } from '@tessera/server';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { reasonOf, Tessera, type TesseraOptions } from '../src/tessera.js';

const { TESSERA_URL, TESSERA_ORIGIN, TESSERA_EMAIL, TESSERA_PASSWORD } = process.env;
if (!TESSERA_URL || !TESSERA_ORIGIN || !TESSERA_EMAIL || !TESSERA_PASSWORD) {
  throw new Error(
    'Set TESSERA_URL, TESSERA_ORIGIN, TESSERA_EMAIL and TESSERA_PASSWORD to a running Tessera (pnpm start) ' +
      'and an account on it, or run the examples with `node examples/run.mjs` from the repository root.',
  );
}
const options: TesseraOptions = {
  url: TESSERA_URL,
  origin: TESSERA_ORIGIN,
  email: TESSERA_EMAIL,
  password: TESSERA_PASSWORD,
};

/** Resolves to the rejection of `promise` (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected the call to be refused'),
    (error: unknown) => error,
  );
}

describe('a TypeScript service calling Tessera', () => {
  it('without a session: UNAUTHORIZED with data.reason "missing"', async () => {
    const error = await rejection(new Tessera(options).api.auth.me.query());
    assert.equal(reasonOf(error), 'missing');
  });

  it('a wrong password: UNAUTHORIZED "invalid_credentials", and call() does not retry it', async () => {
    const wrong = new Tessera({ ...options, password: 'not the password at all' });
    const error = await rejection(wrong.call(() => wrong.signIn()));
    assert.equal(reasonOf(error), 'invalid_credentials');
  });

  it('without the Origin the guard wants, a mutation is refused (403), before any password check', async () => {
    const noOrigin = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${TESSERA_URL}/trpc` })] });
    const error = await rejection(
      noOrigin.auth.login.mutate({ email: TESSERA_EMAIL, password: TESSERA_PASSWORD }),
    );
    assert.equal((error as { data?: { httpStatus?: number } }).data?.httpStatus, 403);
  });

  it('signs in, keeps the cookie, lists its sessions and revokes another; the other recovers', async () => {
    const worker = new Tessera(options);
    const other = new Tessera(options);
    await worker.signIn();
    await other.signIn();
    assert.ok(worker.cookies.has('tessera'), 'COOKIE_SECURE=false: the cookie is "tessera"');

    // Two queries, one HTTP request (httpBatchLink), one session check on the server.
    const [me, sessions] = await Promise.all([worker.api.auth.me.query(), worker.api.sessions.list.query()]);
    assert.equal(me.user.email, TESSERA_EMAIL);
    const current = sessions.find((s) => s.current);
    assert.equal(current?.id, me.session.id);
    const otherId = (await other.api.auth.me.query()).session.id;
    assert.ok(sessions.some((s) => s.id === otherId));

    assert.deepEqual(await worker.api.sessions.revoke.mutate({ sessionId: otherId }), { revoked: true });
    assert.equal(reasonOf(await rejection(other.api.auth.me.query())), 'revoked');
    // call() signs in again when the session has ended, and retries.
    const again = await other.call((api) => api.auth.me.query());
    assert.notEqual(again.session.id, otherId);
    await other.logout();
    await worker.logout();
  });

  it('logout ends the session on the server: the jar drops the cookie, and a copy of it is dead', async () => {
    const service = new Tessera(options);
    await service.signIn();
    const copy = service.cookies.clone();
    assert.equal(await service.logout(), true);
    assert.equal(service.cookies.has('tessera'), false);
    assert.equal(reasonOf(await rejection(service.api.auth.me.query())), 'missing');

    const stale = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `${TESSERA_URL}/trpc`, fetch: copy.fetch })],
    });
    assert.equal(reasonOf(await rejection(stale.auth.me.query())), 'logged_out');
  });
});
