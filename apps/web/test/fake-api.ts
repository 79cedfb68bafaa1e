/**
 * A fake of the server's tRPC HTTP interface for component tests: answers httpBatchLink requests
 * (GET queries, POST mutations, `?batch=1`) from per-procedure handlers, in the server's error shape.
 */
export class ApiFailure {
  constructor(
    readonly code: string,
    readonly message: string,
    readonly data: Record<string, unknown> = {},
  ) {}
}

const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};
const JSONRPC: Record<string, number> = {
  BAD_REQUEST: -32600,
  UNAUTHORIZED: -32001,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  CONFLICT: -32009,
  PRECONDITION_FAILED: -32012,
  TOO_MANY_REQUESTS: -32029,
  INTERNAL_SERVER_ERROR: -32603,
  SERVICE_UNAVAILABLE: -32603,
};

export const fail = (code: string, message: string, data: Record<string, unknown> = {}) =>
  new ApiFailure(code, message, data);

export type Handler = (input: unknown, call: number) => unknown;

export interface FakeApi {
  fetch: typeof globalThis.fetch;
  /** Every procedure call, in order, with its input. */
  calls: { path: string; input: unknown }[];
  callsTo(path: string): unknown[];
  handlers: Record<string, Handler>;
}

export function fakeApi(handlers: Record<string, Handler>): FakeApi {
  const calls: FakeApi['calls'] = [];
  const counts = new Map<string, number>();
  const api: FakeApi = {
    calls,
    handlers,
    callsTo: (path) => calls.filter((c) => c.path === path).map((c) => c.input),
    fetch: async (input, init) => {
      const url = new URL(String(input), 'http://localhost');
      const paths = decodeURIComponent(url.pathname.replace(/^\/trpc\//, '')).split(',');
      const method = init?.method ?? 'GET';
      const raw =
        method === 'GET'
          ? JSON.parse(url.searchParams.get('input') ?? '{}')
          : JSON.parse(String(init?.body ?? '{}'));
      const results = await Promise.all(
        paths.map(async (path, i) => {
          const procInput = (raw as Record<string, unknown>)[String(i)];
          calls.push({ path, input: procInput });
          const n = (counts.get(path) ?? 0) + 1;
          counts.set(path, n);
          const handler = api.handlers[path];
          try {
            if (!handler) throw fail('NOT_FOUND', `No procedure ${path} in this test`);
            const value = await handler(procInput, n);
            if (value instanceof ApiFailure) throw value;
            return { result: { data: value } };
          } catch (error) {
            const f = error instanceof ApiFailure ? error : fail('INTERNAL_SERVER_ERROR', String(error));
            const httpStatus = STATUS[f.code] ?? 500;
            return {
              error: {
                message: f.message,
                code: JSONRPC[f.code] ?? -32603,
                data: { code: f.code, httpStatus, path, ...f.data },
              },
            };
          }
        }),
      );
      const statuses = results.map((r) => (r.error ? r.error.data.httpStatus : 200));
      const status = statuses.every((s) => s === statuses[0]) ? statuses[0]! : 207;
      return new Response(JSON.stringify(results), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    },
  };
  return api;
}

/** The server's answers for a signed-in user, with deadlines relative to `now`. */
export function signedInHandlers(
  options: {
    now?: number;
    idleMs?: number;
    absoluteMs?: number;
    role?: 'user' | 'admin';
    email?: string;
  } = {},
): Record<string, Handler> {
  const now = options.now ?? Date.now();
  const idleMs = options.idleMs ?? 30 * 60_000;
  const absoluteMs = options.absoluteMs ?? 24 * 3_600_000;
  const me = () => ({
    user: {
      id: 'u1',
      email: options.email ?? 'ada@example.com',
      role: options.role ?? 'user',
      mfaEnabled: false,
    },
    session: {
      id: 's-current',
      createdAt: now - 60_000,
      lastActivityAt: Date.now(),
      idleExpiresAt: Math.min(Date.now() + idleMs, now - 60_000 + absoluteMs),
      absoluteExpiresAt: now - 60_000 + absoluteMs,
      freshUntil: now,
      mfa: false,
    },
  });
  return {
    'auth.me': me,
    'sessions.list': () => [],
    'auth.logout': () => ({ ended: true }),
    'auth.ping': () => ({ idleExpiresAt: Date.now() + idleMs, absoluteExpiresAt: now - 60_000 + absoluteMs }),
  };
}

export const notSignedIn = () => fail('UNAUTHORIZED', 'Not signed in', { reason: 'missing' });

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';

/** One event as account.activity answers it (apps/server/src/trpc/routers/account.ts). */
export function activityEvent(
  overrides: {
    id: string;
    type: string;
    at?: number;
    reason?: string | null;
    current?: boolean;
    actor?: { kind: 'self' | 'session' | 'admin' | 'system'; current?: boolean };
    browser?: string | null;
    os?: string | null;
    device?: string | null;
    ip?: string | null;
    sessionId?: string | null;
    detail?: Record<string, string | number | boolean | null>;
  },
  now = Date.now(),
) {
  return {
    at: now - 60_000,
    reason: null,
    current: false,
    ip: '203.0.113.7',
    userAgent: FIREFOX_LINUX,
    browser: 'Firefox 140',
    os: 'Linux',
    device: 'desktop',
    sessionId: null,
    detail: {},
    ...overrides,
    actor: { kind: 'self' as const, ...overrides.actor, current: overrides.actor?.current ?? false },
  };
}

/** admin.getUser's answer for one user, with overrides. */
export function adminUserPage(
  overrides: {
    user?: Partial<{
      id: string;
      email: string;
      role: 'user' | 'admin';
      mfaEnabled: boolean;
      disabled: boolean;
      disabledAt: number | null;
    }>;
    sessions?: object[];
    events?: object[];
  } = {},
  now = Date.now(),
) {
  return {
    user: {
      id: 'u2',
      email: 'bob@example.com',
      role: 'user',
      mfaEnabled: true,
      disabled: false,
      disabledAt: null,
      createdAt: now - 30 * 86_400_000,
      passwordChangedAt: now - 2 * 86_400_000,
      ...overrides.user,
    },
    sessions: overrides.sessions ?? [
      {
        id: 'b-laptop',
        createdAt: now - 3_600_000,
        lastActivityAt: now - 5 * 60_000,
        ip: '198.51.100.4',
        userAgent: FIREFOX_LINUX,
        browser: 'Firefox 140',
        os: 'Linux',
        device: 'desktop',
        deviceBoundAt: null,
      },
      {
        id: 'b-phone',
        createdAt: now - 86_400_000,
        lastActivityAt: now - 60 * 60_000,
        ip: '198.51.100.9',
        userAgent: 'iPhone',
        browser: 'Mobile Safari 18',
        os: 'iOS 18.5',
        device: 'mobile',
        deviceBoundAt: null,
      },
    ],
    events: overrides.events ?? [],
  };
}
