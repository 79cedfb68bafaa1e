/**
 * Target 8: the PostgreSQL store's validate() (one UPDATE ... RETURNING that checks both deadlines and
 * slides the idle one) beside the cheapest write there is on the same table: a bare primary-key
 * UPDATE of last_activity_at. In a fresh database on the local server (127.0.0.1:5432, user
 * postgres), dropped afterwards; a pg.Pool of 10 as the server uses, 50 operations in flight.
 * The statement count is checked, not assumed: a wrapper around the pool counts what validate sends.
 */
import { randomBytes } from 'node:crypto';
import { postgresStore } from '@tessera/session-core/postgres';
import pg from 'pg';
import type { BenchOptions } from '../lib/args.js';
import { num, ratioText } from '../lib/format.js';
import { step } from '../lib/progress.js';
import type { PhaseResult } from '../lib/results.js';
import { createHotSessions, managerOn, validateOp } from '../lib/sessions.js';
import { ratioOf } from '../lib/stats.js';
import { interleave, opsText } from './validate.js';

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function runPostgresTarget(options: BenchOptions): Promise<PhaseResult> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2_000 });
  // Another tenant of the shared server may terminate connections; that must fail a query, not the process.
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (error) {
    step(`PostgreSQL is not reachable at ${PG_ADMIN_URL}: ${(error as Error).message}`);
    return {
      rows: [
        {
          id: '8',
          target: 'PostgreSQL store validate() vs bare PK UPDATE',
          tessera: 'n/a',
          peer: 'n/a',
          ratio: 'n/a',
          goal: 'one statement; report',
          pass: null,
          note: 'no PostgreSQL at 127.0.0.1:5432',
        },
      ],
      metrics: {},
      panels: [],
    };
  }
  const database = `tessera_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const pool = new pg.Pool({
    connectionString: PG_ADMIN_URL.replace(/\/postgres$/, `/${database}`),
    max: 10,
  });
  pool.on('error', () => {});
  let statements = 0;
  const counting = {
    query: (text: string, values?: unknown[]) => {
      statements++;
      return pool.query(text, values);
    },
    connect: () => pool.connect(),
  };
  try {
    const store = postgresStore({ pool: counting });
    await store.migrate();
    const sessions = managerOn(store);
    const tokens = await createHotSessions(sessions, options.hotSessions, 'pg', 10);
    const ids = (await pool.query<{ id: string }>('SELECT id FROM tessera_sessions')).rows.map((r) => r.id);

    // One statement per validate, counted.
    const check = validateOp(sessions, tokens);
    statements = 0;
    for (let i = 0; i < 100; i++) await check(i);
    const perValidate = statements / 100;

    const bare = async (i: number) => {
      await pool.query('UPDATE tessera_sessions SET last_activity_at = $2 WHERE id = $1', [
        ids[i % ids.length],
        Date.now(),
      ]);
    };
    // Warm the pool to its 10 connections, then charge their backends' CPU.
    await Promise.all(Array.from({ length: 50 }, (_, i) => bare(i)));
    const backends = (
      await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database])
    ).rows.map((r) => r.pid);
    step(
      `${num(options.hotSessions)} sessions in ${database}; validate sends ${perValidate} statement(s); ${backends.length} backends`,
    );

    const stats = await interleave(
      [
        { key: 'validate', op: check },
        { key: 'bare UPDATE', op: bare },
      ],
      options,
      backends,
    );
    const v = stats.validate!;
    const u = stats['bare UPDATE']!;
    const ratio = ratioOf(v.opsPerSec, u.opsPerSec);
    return {
      rows: [
        {
          id: '8',
          target: `PostgreSQL store validate() vs bare PK UPDATE, same table (pool of 10, ${options.inFlight} in flight)`,
          tessera: `${opsText(v, 'postgres')}; ${perValidate} statement`,
          peer: `${opsText(u, 'postgres')} bare UPDATE`,
          ratio: ratioText(ratio),
          goal: 'one statement; report',
          pass: perValidate === 1,
        },
      ],
      metrics: {
        'target8.validate.opsPerSec': { unit: 'ops/s', summary: v.opsPerSec },
        'target8.update.opsPerSec': { unit: 'ops/s', summary: u.opsPerSec },
        'target8.validate.postgresCpuUs': { unit: 'us/op', summary: v.serverCpuUs },
        'target8.update.postgresCpuUs': { unit: 'us/op', summary: u.serverCpuUs },
        'target8.ratio': { unit: 'x', summary: ratio },
      },
      panels: [],
      facts: { target8: { statementsPerValidate: perValidate, database } },
    };
  } finally {
    await pool.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
  }
}
