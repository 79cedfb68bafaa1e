/**
 * Every procedure has exactly one declared guard, and it is the one docs/SECURITY.md's
 * "Procedure guards" table gives it. The guard is read from the procedure's middleware chain (the
 * named middlewares of src/trpc.ts), not from anything a procedure could merely claim.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextInner } from '../../src/trpc/context.js';
import { createCallerFactory, type Guard, guardMiddlewares } from '../../src/trpc/procedures.js';
import { appRouter } from '../../src/trpc/routers/index.js';
import { startApp, type TestApp, uniqueEmail } from '../helpers/app.js';

const GUARDS: readonly Guard[] = ['public', 'session', 'fresh', 'admin', 'admin + fresh'];

/** The table under "## Procedure guards" in docs/SECURITY.md: procedure -> guard. */
function documentedGuards(): Map<string, string> {
  const doc = readFileSync(fileURLToPath(new URL('../../../../docs/SECURITY.md', import.meta.url)), 'utf8');
  const section = doc.split(/^## Procedure guards$/m)[1]?.split(/^## /m)[0];
  if (!section) throw new Error('docs/SECURITY.md has no "## Procedure guards" section');
  const table = new Map<string, string>();
  for (const row of section.matchAll(/^\| `([\w.]+)` \| ([^|]+?) \|/gm)) {
    const [, path, guard] = row as unknown as [string, string, string];
    expect(table.has(path), `${path} has two rows`).toBe(false);
    table.set(path, guard);
  }
  return table;
}

interface ProcedureDef {
  type: 'query' | 'mutation' | 'subscription';
  middlewares: unknown[];
}

/** The guard a procedure's middleware chain gives it, or a description of what is wrong with it. */
function guardOf(def: ProcedureDef): string {
  const named = def.middlewares.map((m) => guardMiddlewares.get(m)).filter((g) => g !== undefined);
  const chain = named.join(' -> ');
  switch (chain) {
    case 'public':
      return 'public';
    case 'session':
      return 'session';
    case 'session -> fresh':
      return 'fresh';
    // adminProcedure requires freshness on anything but a query (src/trpc.ts).
    case 'session -> admin':
      return def.type === 'query' ? 'admin' : 'admin + fresh';
    default:
      return `no single declared guard (${chain || 'none'})`;
  }
}

const procedures = Object.entries(
  (appRouter._def as unknown as { procedures: Record<string, { _def: ProcedureDef }> }).procedures,
);

describe('procedure guards (docs/SECURITY.md is the table)', () => {
  const table = documentedGuards();

  it('the table uses only the declared guards and lists procedures that exist', () => {
    expect(table.size).toBeGreaterThan(10);
    for (const [path, guard] of table) {
      expect(GUARDS, `${path}: unknown guard "${guard}"`).toContain(guard);
      expect(
        procedures.some(([p]) => p === path),
        `${path} is in the table but not in the router`,
      ).toBe(true);
    }
  });

  it.each(procedures.map(([path, p]) => [path, p._def] as const))('%s', (path, def) => {
    expect(table.has(path), `${path} has no row in docs/SECURITY.md "Procedure guards"`).toBe(true);
    expect(guardOf(def)).toBe(table.get(path));
  });

  it('reads guards from the chain: a procedure built without a guard has none', async () => {
    const { initTRPC } = await import('@trpc/server');
    const bare = initTRPC.create().procedure.query(() => 1);
    expect(guardOf(bare._def as unknown as ProcedureDef)).toBe('no single declared guard (none)');
  });
});

/**
 * The same table, checked by behaviour: each procedure is called (through createCaller, input left
 * out so that a call that passes its guard stops at input validation where there is one) without a
 * session, with a user session and an admin session past the fresh window, and with a fresh admin
 * session; the refusals must be exactly the ones its documented guard makes.
 */
describe('procedure guards, by behaviour', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  const table = documentedGuards();
  const createCaller = createCallerFactory(appRouter);

  type Probe = 'none' | 'stale user' | 'stale admin' | 'fresh admin';

  async function refusal(path: string, probe: Probe): Promise<string | null> {
    const { deps } = app.runtime;
    let ctx = createContextInner({ deps, noSession: 'missing' });
    if (probe !== 'none') {
      const role = probe === 'stale user' ? 'user' : 'admin';
      const user = await app.createUser(uniqueEmail('guard'), { role });
      const authAt = probe === 'fresh admin' ? Date.now() : 0;
      const issued = await deps.sessions.create({ userId: user.id, data: { role, authAt, mfa: false } });
      ctx = createContextInner({ deps, session: issued.session, token: issued.token });
    }
    let target: unknown = createCaller(ctx);
    for (const part of path.split('.')) target = (target as Record<string, unknown>)[part];
    try {
      const result = await (target as (input?: unknown) => Promise<unknown>)(undefined);
      // A subscription that passed its guard: end the stream it opened.
      await (result as AsyncIterator<unknown> | null)?.return?.();
      return null;
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error;
      if (error.code === 'UNAUTHORIZED') return 'unauthorized';
      const reason = (error.cause as { reason?: string } | undefined)?.reason;
      if (
        error.code === 'FORBIDDEN' &&
        (reason === 'reauthentication_required' || reason === 'admin_required')
      ) {
        return reason;
      }
      return null; // past the guard: input validation, a precondition, ...
    }
  }

  const expected: Record<Guard, Record<Probe, string | null>> = {
    public: { none: null, 'stale user': null, 'stale admin': null, 'fresh admin': null },
    session: { none: 'unauthorized', 'stale user': null, 'stale admin': null, 'fresh admin': null },
    fresh: {
      none: 'unauthorized',
      'stale user': 'reauthentication_required',
      'stale admin': 'reauthentication_required',
      'fresh admin': null,
    },
    admin: { none: 'unauthorized', 'stale user': 'admin_required', 'stale admin': null, 'fresh admin': null },
    'admin + fresh': {
      none: 'unauthorized',
      'stale user': 'admin_required',
      'stale admin': 'reauthentication_required',
      'fresh admin': null,
    },
  };

  it.each(procedures.map(([path]) => path))('%s', async (path) => {
    const guard = table.get(path) as Guard | undefined;
    expect(guard, `${path} has no row in docs/SECURITY.md`).toBeDefined();
    const seen: Record<string, string | null> = {};
    for (const probe of ['none', 'stale user', 'stale admin', 'fresh admin'] as const) {
      seen[probe] = await refusal(path, probe);
    }
    expect(seen).toEqual(expected[guard as Guard]);
  });
});
