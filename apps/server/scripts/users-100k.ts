/**
 * `pnpm scale:users [--users 100000] [--runs 30]` (or SCALE_USERS, SCALE_RUNS): the admin console's
 * user list at scale. Seeds the users database named by the server's environment (DATABASE_URL, else
 * the embedded PGlite in DATA_DIR; without either, a temporary DATA_DIR) with that many users, then
 * times the repository call admin.listUsers makes - the first page, a prefix search and page 2,000
 * reached through its cursor (with OFFSET beside it, for comparison) - and prints the best and median
 * of the runs and the plan PostgreSQL chose for each (EXPLAIN ANALYZE of the very statement the
 * repository sent). Figures go to docs/PERFORMANCE.md, not into code.
 *
 * Users are inserted directly, a few thousand per statement with one fixed dummy argon2id hash (no
 * password hashing: nobody signs in as them), and only up to the count asked for: a second run
 * reuses them. They are `<name>.<n>@<domain>` with every third one capitalised, so a prefix search
 * matches a known share and case matters to the data if not to the search.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compose } from '../src/compose.js';
import { parseEnv } from '../src/env.js';
import type { Database } from '../src/infra/database.js';
import { createLogger } from '../src/logger.js';
import { type UserKey, userRepository } from '../src/users/repository.js';
import { option } from './lib/stack.js';

/** A well-formed argon2id PHC string that no password matches (all-zero salt and hash). */
export const DUMMY_HASH = `$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(22)}$${'A'.repeat(43)}`;

const NAMES = [
  'alice',
  'alex',
  'amir',
  'bruno',
  'carla',
  'chen',
  'dana',
  'diego',
  'elena',
  'emma',
  'farah',
  'felix',
  'grace',
  'hana',
  'ivan',
  'jonas',
  'julia',
  'kenji',
  'lena',
  'lucas',
  'maria',
  'mark',
  'martin',
  'nadia',
  'noah',
  'olga',
  'omar',
  'paula',
  'quinn',
  'rosa',
  'sami',
  'sara',
  'tomas',
  'uma',
  'victor',
  'wei',
  'xavier',
  'yara',
  'zoe',
  'zeno',
];
const DOMAINS = ['example.com', 'example.org', 'mail.example', 'corp.example', 'uni.example'];

/** The i-th seeded email (0-based): deterministic, unique case-insensitively. */
export function scaleEmail(i: number): string {
  const name = NAMES[i % NAMES.length]!;
  const email = `${name}.${String(i).padStart(6, '0')}@${DOMAINS[i % DOMAINS.length]}`;
  return i % 3 === 0 ? email.charAt(0).toUpperCase() + email.slice(1) : email;
}

/**
 * Inserts seeded users `from` .. `to - 1` (scaleEmail numbering) that aren't there yet, `batch` per
 * statement (one array parameter per column, so a statement's size doesn't depend on the batch).
 * Returns how many were inserted.
 */
export async function seedUsers(
  db: Database,
  range: { from?: number; to: number; batch?: number; now?: number },
): Promise<number> {
  const batch = range.batch ?? 5_000;
  const now = range.now ?? Date.now();
  let inserted = 0;
  for (let start = range.from ?? 0; start < range.to; start += batch) {
    const ids: string[] = [];
    const emails: string[] = [];
    const created: number[] = [];
    for (let i = start; i < Math.min(range.to, start + batch); i++) {
      ids.push(randomUUID());
      emails.push(scaleEmail(i));
      created.push(now - i);
    }
    const rows = await db.query(
      `INSERT INTO tessera_users (id, email, password_hash, role, password_changed_at, created_at)
       SELECT id, email, $3, 'user', created, created
       FROM unnest($1::text[], $2::text[], $4::bigint[]) AS t(id, email, created)
       ON CONFLICT DO NOTHING RETURNING id`,
      [ids, emails, DUMMY_HASH, created],
    );
    inserted += rows.length;
  }
  return inserted;
}

const ms = (n: number) => `${n.toFixed(2)} ms`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const count = Number(option(argv, 'users', process.env.SCALE_USERS, '100000'));
  const runs = Number(option(argv, 'runs', process.env.SCALE_RUNS, '30'));
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    ...process.env,
  };
  // Without a database named, a temporary one, removed afterwards.
  const scratch = !env.DATABASE_URL && !env.DATA_DIR ? mkdtempSync(join(tmpdir(), 'tessera-scale-')) : null;
  if (scratch) env.DATA_DIR = scratch;
  const config = parseEnv(env);
  const runtime = await compose(config, {
    role: 'cli',
    sessions: false,
    demoUsers: false,
    logger: createLogger({ logLevel: 'warn' }),
  });
  const out = (line = '') => process.stdout.write(`${line}\n`);
  try {
    const { db } = runtime;
    const version = String((await db.query('SELECT version() AS v'))[0]?.v ?? '?');
    out(`database: ${runtime.databaseLabel}, ${version.split(' on ')[0]}`);
    const seedStart = performance.now();
    const inserted = await seedUsers(db, { to: count });
    const seedMs = performance.now() - seedStart;
    await db.query('ANALYZE tessera_users');
    const total = Number((await db.query('SELECT count(*) AS n FROM tessera_users'))[0]?.n);
    out(`users: ${total} (${inserted} inserted now in ${(seedMs / 1000).toFixed(1)} s)`);

    // The repository the procedure uses, on a connection that remembers the last statement.
    let last: { sql: string; params: readonly unknown[] } = { sql: '', params: [] };
    const recording: Database = {
      ...db,
      query: (sql, params = []) => {
        last = { sql, params };
        return db.query(sql, params);
      },
    };
    const users = userRepository(recording, { secrets: runtime.totpKeys.box });

    const pageSize = 25;
    const depth = 2_000;
    const keyRows = await db.query(
      `SELECT lower(email) AS email_key, id FROM tessera_users
       ORDER BY lower(email) USING ~<~, id OFFSET $1 LIMIT 1`,
      [(depth - 1) * pageSize - 1],
    );
    if (!keyRows[0]) throw new Error(`page ${depth} needs at least ${depth * pageSize} users`);
    const key: UserKey = { email: String(keyRows[0].email_key), id: String(keyRows[0].id) };
    // admin.listUsers asks for one row more than it shows, to know whether there is a next page.
    const cases: { label: string; run: () => Promise<unknown> }[] = [
      { label: 'first page', run: () => users.list({ limit: pageSize + 1 }) },
      { label: 'prefix "mar"', run: () => users.list({ query: 'MAR', limit: pageSize + 1 }) },
      { label: `page ${depth} (cursor)`, run: () => users.list({ after: key, limit: pageSize + 1 }) },
      {
        label: `page ${depth} (OFFSET, for comparison)`,
        run: () =>
          recording.query(
            `SELECT id, email FROM tessera_users ORDER BY lower(email) USING ~<~, id LIMIT $1 OFFSET $2`,
            [pageSize + 1, (depth - 1) * pageSize],
          ),
      },
    ];

    out(`\nadmin.listUsers repository call, ${pageSize} (+1) rows, best / median of ${runs} runs:`);
    const plans: { label: string; sql: string; params: readonly unknown[] }[] = [];
    for (const c of cases) {
      for (let i = 0; i < 3; i++) await c.run(); // warm-up: connection, caches, plan
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await c.run();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      out(`  ${c.label.padEnd(34)} ${ms(times[0]!)} / ${ms(times[Math.floor(times.length / 2)]!)}`);
      plans.push({ label: c.label, ...last });
    }

    for (const p of plans) {
      out(`\nEXPLAIN ANALYZE, ${p.label}:`);
      const rows = await db.query(`EXPLAIN (ANALYZE, COSTS OFF) ${p.sql}`, p.params);
      for (const r of rows) out(`  ${String(Object.values(r)[0])}`);
    }
  } finally {
    await runtime.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
