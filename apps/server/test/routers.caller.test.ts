/**
 * Routers through `createCaller` and `createContextInner` (no HTTP): the procedure builders' rules.
 */
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextInner } from '../src/trpc/context.js';
import { createCallerFactory } from '../src/trpc/procedures.js';
import { appRouter } from '../src/trpc/routers/index.js';
import { startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const createCaller = createCallerFactory(appRouter);

async function signedInCaller(role: 'user' | 'admin' = 'user', authAt = Date.now()) {
  const { deps } = app.runtime;
  const user = await app.createUser(uniqueEmail(), { role });
  const issued = await deps.sessions.create({ userId: user.id, data: { role, authAt, mfa: false } });
  const ctx = createContextInner({ deps, session: issued.session, token: issued.token });
  return { caller: createCaller(ctx), ctx, user, issued };
}

describe('procedure builders', () => {
  it('authedProcedure: UNAUTHORIZED carrying the reason', async () => {
    const caller = createCaller(createContextInner({ deps: app.runtime.deps, noSession: 'idle_timeout' }));
    const error = await caller.auth.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe('UNAUTHORIZED');
    expect(((error as TRPCError).cause as { reason?: string }).reason).toBe('idle_timeout');
  });

  it('auth.me returns the user and session', async () => {
    const { caller, user, issued } = await signedInCaller();
    const me = await caller.auth.me();
    expect(me.user).toEqual({ id: user.id, email: user.email, role: 'user', mfaEnabled: false });
    expect(me.session.id).toBe(issued.session.id);
  });

  it('freshProcedure: FORBIDDEN once authAt is older than FRESH_AUTH_WINDOW', async () => {
    const window = app.runtime.deps.config.freshAuthWindowMs;
    const stale = await signedInCaller('user', Date.now() - window - 1);
    await expect(stale.caller.sessions.revokeOthers()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const fresh = await signedInCaller('user', Date.now() - window + 60_000);
    await expect(fresh.caller.sessions.revokeOthers()).resolves.toEqual({ revoked: 0 });
  });

  it('adminProcedure: by the role in the session', async () => {
    await expect((await signedInCaller('user')).caller.admin.listUsers()).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect((await signedInCaller('admin')).caller.admin.listUsers()).resolves.toMatchObject({
      users: expect.any(Array),
      nextCursor: null,
    });
  });

  it('sessions.list marks the current session; cookies are queued in ctx.response, not written', async () => {
    const { caller, ctx, issued } = await signedInCaller();
    const list = await caller.sessions.list();
    expect(list).toEqual([expect.objectContaining({ id: issued.session.id, current: true })]);
    await caller.auth.logout();
    expect([...ctx.response.cookies.values()]).toEqual([
      expect.objectContaining({ value: '', attributes: expect.objectContaining({ maxAge: 0 }) }),
    ]);
  });
});
