/**
 * The two servers test/conformance.test.ts compares: the bare /trpc route (http/trpc-route.ts, without
 * trpc-plugin.ts's guard, batch bound and request limit) and tRPC's own Fastify adapter, both over one
 * test router and one context factory, each writing its cookies and headers from the same
 * `ResponseState` (the adapter through `responseMeta`). Each records what its onError saw and which
 * calls saw their client leave, so the test can compare what the operator sees and that an abort
 * reaches both.
 */
import { type SessionCookie, SessionStoreError, serializeCookie } from '@tessera/session-core';
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registerTrpcRoute } from '../../src/http/trpc-route.js';
import { UnavailableError } from '../../src/infra/unavailable.js';
import { newResponseState, type RequestInput } from '../../src/trpc/context.js';
import {
  badInput,
  forbidden,
  formatError,
  sessionLimitConflict,
  tooManyRequests,
  unauthorized,
} from '../../src/trpc/errors.js';

export type ServerName = 'route' | 'adapter';

export interface ConformanceContext extends RequestInput {
  server: ServerName;
}

/** What each server's onError saw, in order: reset before each request. */
export const onErrorLog: Record<ServerName, string[]> = { route: [], adapter: [] };
/** Calls of `forever` and `slow` that started, as `<server>:<id>`. */
export const startedCalls = new Set<string>();
/** Calls of `forever` and `slow` that saw the client leave (and ended), as `<server>:<id>`. */
export const endedCalls = new Set<string>();

const cookie = (name: string, value: string, maxAge?: number): SessionCookie => ({
  name,
  value,
  attributes: { httpOnly: true, secure: false, sameSite: 'lax', path: '/', maxAge },
});

const t = initTRPC.context<ConformanceContext>().create({
  errorFormatter: ({ shape, error }) => formatError(shape, error, false),
  // No ping: the event sequence must not depend on timing.
  sse: { ping: { enabled: false }, client: { reconnectAfterInactivityMs: 20_000 } },
});

const waitForAbort = (signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (!signal || signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

export const conformanceRouter = t.router({
  greet: t.procedure.input(z.object({ name: z.string().min(1) })).query(({ input }) => `Hello ${input.name}`),
  /** What the context factory was handed of the request. */
  whoami: t.procedure.query(({ ctx }) => ({
    cookieHeader: ctx.cookieHeader ?? null,
    userAgent: ctx.userAgent ?? null,
    ip: ctx.ip,
  })),
  noInput: t.procedure.query(() => null),
  add: t.procedure
    .input(z.object({ a: z.number(), b: z.number() }))
    .mutation(({ input }) => input.a + input.b),
  signIn: t.procedure.input(z.object({ token: z.string() })).mutation(({ ctx, input }) => {
    ctx.response.cookies.set('tessera', cookie('tessera', input.token, 3600));
    ctx.response.cookies.set('tessera-mfa', cookie('tessera-mfa', 'challenge'));
    return { signedIn: true };
  }),
  signOut: t.procedure.mutation(({ ctx }) => {
    ctx.response.cookies.set('tessera', cookie('tessera', '', 0));
    ctx.response.cookies.set('tessera-mfa', cookie('tessera-mfa', '', 0));
    return { signedIn: false };
  }),
  /** A refusal that still sets a cookie (as a logout of a dead session does). */
  signOutRefused: t.procedure.mutation(({ ctx }) => {
    ctx.response.cookies.set('tessera', cookie('tessera', '', 0));
    throw unauthorized('unknown');
  }),
  throttled: t.procedure.mutation(({ ctx }) => {
    ctx.response.headers.set('retry-after', '7');
    throw tooManyRequests(6_500);
  }),
  needsSession: t.procedure.query(() => {
    throw unauthorized('missing');
  }),
  wrongCode: t.procedure.mutation(() => {
    throw unauthorized('invalid_code', 'Wrong code', { attemptsLeft: 2 });
  }),
  adminOnly: t.procedure.query(() => {
    throw forbidden('admin_required', 'Admins only.');
  }),
  limitReached: t.procedure.mutation(() => {
    throw sessionLimitConflict({
      limit: 1,
      ticket: 'ticket-1',
      sessions: [
        {
          id: 's1',
          createdAt: 1,
          lastActivityAt: 2,
          userAgent: 'ua',
          ip: '127.0.0.1',
          browser: null,
          os: null,
          device: null,
        },
      ],
    });
  }),
  weakPassword: t.procedure.mutation(() => {
    throw badInput('password', 'Too weak.');
  }),
  precondition: t.procedure.mutation(() => {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'Reload first.' });
  }),
  bug: t.procedure.query(() => {
    throw new Error('a secret detail that must not reach the client');
  }),
  storeDown: t.procedure.query(() => {
    throw new SessionStoreError('redis is down');
  }),
  databaseDown: t.procedure.mutation(() => {
    throw new UnavailableError('postgres is down');
  }),
  count: t.procedure.input(z.object({ upTo: z.number().int().max(5) })).subscription(async function* ({
    input,
  }) {
    for (let i = 1; i <= input.upTo; i++) yield { n: i };
  }),
  /** Tracked events: the client's Last-Event-Id (header or query) says where to resume. */
  ticks: t.procedure
    .input(z.object({ lastEventId: z.string().nullish() }).optional())
    .subscription(async function* ({ input }) {
      const from = Number(input?.lastEventId ?? 0);
      for (let i = from + 1; i <= from + 2; i++) yield tracked(String(i), { tick: i });
    }),
  failingStream: t.procedure.subscription(async function* () {
    yield 'before';
    throw new SessionStoreError('lost the store mid-stream');
  }),
  /** Answers only once its signal aborts, i.e. once the client is gone. */
  slow: t.procedure.input(z.object({ id: z.string() })).query(async ({ ctx, input, signal }) => {
    const key = `${ctx.server}:${input.id}`;
    startedCalls.add(key);
    await waitForAbort(signal);
    endedCalls.add(key);
    return 'aborted';
  }),
  /** Yields once, then waits for the client to go away. */
  forever: t.procedure.input(z.object({ id: z.string() })).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const key = `${ctx.server}:${input.id}`;
    startedCalls.add(key);
    try {
      yield 'first';
      await waitForAbort(signal);
    } finally {
      endedCalls.add(key);
    }
  }),
});

export type ConformanceRouter = typeof conformanceRouter;

/**
 * One context factory for both servers. The `ctx` cookie drives its failure modes: `ctx=throw` (a bug
 * in createContext), `ctx=unavailable` (the session store failed while validating), `ctx=cookie`
 * (queues a cookie, as the real factory does for a duplicate session cookie).
 */
export const contextFor =
  (server: ServerName) =>
  async (request: RequestInput): Promise<ConformanceContext> => {
    const mode = /(?:^|;\s*)ctx=(\w+)/.exec(request.cookieHeader ?? '')?.[1];
    if (mode === 'throw') throw new Error('createContext exploded');
    if (mode === 'unavailable') throw new SessionStoreError('store down while validating');
    if (mode === 'cookie') request.response.cookies.set('tessera', cookie('tessera', '', 0));
    return { ...request, server };
  };

const recordError = (server: ServerName) => (failure: { error: TRPCError; path?: string; type: string }) => {
  onErrorLog[server].push(`${failure.type} ${failure.path ?? '-'} ${failure.error.code}`);
};

/**
 * Close drops every connection: an aborted fetch can leave the client an open connection that never
 * carried a request, which would hold `close()` until the client's keep-alive timeout.
 */
const newApp = () => Fastify({ forceCloseConnections: true });

/** A: the bare route, in its own scope under /trpc. */
export async function startRouteServer(): Promise<{ app: FastifyInstance; url: string }> {
  const app = newApp();
  await app.register(
    async (scope) => {
      registerTrpcRoute(scope, {
        router: conformanceRouter,
        createContext: contextFor('route'),
        onError: recordError('route'),
      });
    },
    { prefix: '/trpc' },
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

/** B: tRPC's official Fastify adapter, writing the same ResponseState through responseMeta. */
export async function startAdapterServer(): Promise<{ app: FastifyInstance; url: string }> {
  const app = newApp();
  const trpcOptions: FastifyTRPCPluginOptions<ConformanceRouter>['trpcOptions'] = {
    router: conformanceRouter,
    createContext: ({ req }) =>
      contextFor('adapter')({
        cookieHeader: req.headers.cookie,
        userAgent: req.headers['user-agent'],
        ip: req.ip ?? null,
        response: newResponseState(),
      }),
    responseMeta: ({ ctx }) => {
      if (!ctx) return {};
      const headers = new Headers();
      for (const c of ctx.response.cookies.values()) headers.append('set-cookie', serializeCookie(c));
      for (const [name, value] of ctx.response.headers) headers.set(name, value);
      return { headers };
    },
    onError: recordError('adapter'),
  };
  await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}
