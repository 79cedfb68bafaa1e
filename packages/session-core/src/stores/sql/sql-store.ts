import { storeFailure } from '../../errors.js';
import type {
  CreateOutcome,
  DeviceKey,
  DeviceOutcome,
  EndReason,
  SessionData,
  SessionStore,
  StoreCall,
  StoredSession,
  StorePolicy,
  TokenCall,
  ValidateOutcome,
} from '../../store.js';
import { migrationSql, type SessionTable } from './schema.js';

/**
 * The SQL session store, shared by PostgreSQL (`pg`) and PGlite: same schema, same statements. The
 * drivers only differ in how they run a query and a transaction, which is all `SqlExecutor` asks for.
 *
 * Every operation is atomic on its own:
 *  - single-row operations are one `UPDATE ... RETURNING` (the row lock plus READ COMMITTED's recheck
 *    of the WHERE clause on the newest row version makes them linearizable per session); the device
 *    binding calls are one statement too, locking the row before they decide (`deviceStatement`);
 *  - `create` is one transaction serialized per user by `pg_advisory_xact_lock`, so parallel logins
 *    of one user can never exceed the limit.
 * No statement ever sets `ended_reason` back to NULL: once ended (revoked, logged out, timed out), a
 * session stays ended, whatever races with it.
 *
 * The liveness test in SQL mirrors `liveness()` in `../../policy.ts` exactly: live iff
 * `now < created_at + absoluteMs AND now < last_activity_at + idleMs` (at the deadline: expired), and
 * when both deadlines have passed the reason is `absolute_timeout`.
 */

/**
 * Runs statements: what the SQL stores need of a driver, and what `postgresExecutor` and
 * `pgliteExecutor` give an app for its own tables. Rows come back as plain objects keyed by column
 * name, with the driver's own value types (`pg` returns int8 as a string, PGlite as a number).
 */
export interface SqlQueryable {
  /**
   * Runs one statement with `$1`, `$2`, ... parameters and returns its rows (none for a statement
   * without RETURNING). `T` types the rows; nothing checks it at run time.
   */
  query<T extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<T[]>;
  /** Runs a script of several statements without parameters (the migrations). */
  script(sql: string): Promise<void>;
}

export interface SqlExecutor extends SqlQueryable {
  /**
   * Runs `fn` in one READ COMMITTED transaction on one connection: commit when it resolves, roll back
   * when it throws (and rethrow what it threw). A statement that failed inside aborts the transaction
   * even if `fn` caught its error: it then rejects instead of committing. Use `tx`, not the executor,
   * inside `fn`: the executor runs outside the transaction (on PGlite's single connection it would
   * wait for the transaction, for ever). The advisory lock in `create` relies on each statement taking
   * a fresh snapshot.
   */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
}

/** A SessionStore over SQL, plus what only SQL needs: the schema and a sweep for dead rows. */
export interface SqlSessionStore extends SessionStore {
  /** Creates the table and index if missing. Idempotent; safe to run at every boot. */
  migrate(): Promise<void>;
  /**
   * Deletes tombstones older than `tombstoneMs` and open rows whose nearer deadline lies more than
   * `tombstoneMs` in the past. Returns how many rows were deleted. The manager's `sweep()` calls it
   * with its clock and policy: run that periodically (e.g. every few minutes). Nothing else removes
   * rows, but correctness never depends on it.
   */
  sweep(input: StoreCall): Promise<number>;
}

/** Applies the schema, holding an advisory lock so that instances booting together don't race. */
export async function migrateSql(db: SqlExecutor, table: SessionTable): Promise<void> {
  const sql = migrationSql({ table: table.qualified });
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${table.qualified}:migrate`]);
    await tx.script(sql);
  });
}

// -- SQL ------------------------------------------------------------------------------------------

const COLUMNS = 'id, user_id, data, created_at, last_activity_at, user_agent, ip, rotate_pending, bound_at';

/**
 * The policy's liveness test over placeholders `now`, `idle`, `abs` (bigint milliseconds).
 * Mirrors `liveness(record, now, policy) === 'live'` plus "not ended".
 */
function live(now: string, idle: string, abs: string): string {
  return `(ended_reason IS NULL AND ${now}::bigint < created_at + ${abs}::bigint AND ${now}::bigint < last_activity_at + ${idle}::bigint)`;
}

/**
 * validate's device-binding rule over the row `s` and placeholders `now`, `bound` (the request's bound
 * cookie hash, or NULL) and `grace` (bindingGraceMs): an unbound session passes; a bound one needs the
 * current or previous bound cookie before its expiry, or to be within the grace after binding.
 * Never NULL (a NULL `bound` compares as unknown, hence the COALESCE).
 */
function boundOk(now: string, bound: string, grace: string): string {
  return `COALESCE(s.bound_at IS NULL OR ${now}::bigint < s.bound_at + ${grace}::bigint
    OR (s.bound_hash = ${bound}::bytea AND ${now}::bigint < s.bound_expires_at)
    OR (s.bound_prev_hash = ${bound}::bytea AND ${now}::bigint < s.bound_prev_expires_at), false)`;
}

/**
 * One device-binding call (bindDevice, deviceChallenge, deviceKey, refreshDevice) as ONE statement.
 * $1 id, $2 token hash (current or the one the last rotation replaced), $3 now, $4 idleMs,
 * $5 absoluteMs, $6 tombstoneMs; the call's own parameters from $7.
 * - `prior` locks the row and reads it as it is now (READ COMMITTED rechecks a locked row on its newest
 *   version), so two calls on one session run one after the other: a challenge is used once.
 * - `verdict` decides, in validate's order: unknown (no row, or a tombstone past its time), the end
 *   reason of an ended row, a deadline (ending the session: `ending`), then `checks` (CASE branches
 *   naming the call's refusals) or 'ok'.
 * - `written` ends a dead session as validate would, or on 'ok' sets each column of `writes` to its
 *   SQL value (over the row `s` as it was, and the parameters); never last_activity_at. Nothing is
 *   written otherwise.
 */
function deviceStatement(t: string, checks: string, writes: Readonly<Record<string, string>>): string {
  const set = Object.entries(writes)
    .map(
      ([column, value]) => `,\n    ${column} = CASE WHEN v.outcome = 'ok' THEN ${value} ELSE s.${column} END`,
    )
    .join('');
  return `
WITH prior AS (
  SELECT id, user_id, data, created_at, last_activity_at, user_agent, ip, rotate_pending, ended_reason,
    ended_at, bound_at, bound_jkt, bound_jwk, bound_alg, dbsc_challenge, dbsc_challenge_expires_at
  FROM ${t} WHERE id = $1 AND (token_hash = $2 OR prev_token_hash = $2)
  FOR NO KEY UPDATE
), verdict AS (
  SELECT p.*,
    CASE
      WHEN p.ended_reason IS NOT NULL THEN
        CASE WHEN p.ended_at + $6::bigint <= $3::bigint THEN 'unknown' ELSE p.ended_reason END
      WHEN $3::bigint >= p.created_at + $5::bigint THEN 'absolute_timeout'
      WHEN $3::bigint >= p.last_activity_at + $4::bigint THEN 'idle_timeout'
      ${checks.trim()}
      ELSE 'ok' END AS outcome,
    p.ended_reason IS NULL
      AND ($3::bigint >= p.created_at + $5::bigint OR $3::bigint >= p.last_activity_at + $4::bigint) AS ending
  FROM prior AS p
), written AS (
  UPDATE ${t} AS s SET
    ended_reason = CASE WHEN v.ending THEN v.outcome ELSE s.ended_reason END,
    ended_at = CASE WHEN v.ending THEN $3::bigint ELSE s.ended_at END${set}
  FROM verdict AS v
  WHERE s.id = v.id AND (v.ending${set.length > 0 ? " OR v.outcome = 'ok'" : ''})
  RETURNING s.id, s.bound_at
)
SELECT v.id, v.user_id, v.data, v.created_at, v.last_activity_at, v.user_agent, v.ip, v.rotate_pending,
  COALESCE(w.bound_at, v.bound_at) AS bound_at, v.bound_jkt, v.bound_jwk, v.bound_alg, v.outcome, v.ending
FROM verdict AS v LEFT JOIN written AS w ON w.id = v.id`;
}

/** The challenge check over the locked row `p`: the stored challenge is $7 and `now` ($3) is before its expiry. */
const CHALLENGE_OK = `COALESCE(p.dbsc_challenge = $7::bytea AND $3::bigint < p.dbsc_challenge_expires_at, false)`;

/** Every statement, for one table (a validated identifier: see ./schema.ts). */
function statements(t: string) {
  /**
   * validate: ONE statement. $1 id, $2 token hash, $3 now, $4 idleMs, $5 absoluteMs, $6 the request's
   * bound cookie hash (or NULL), $7 bindingGraceMs.
   * - matches the current token or the previous one (-> 'rotated' while open, nothing changes);
   * - current token, live, but bound and without a fresh bound cookie: nothing changes (the row is
   *   rewritten with its own values), `bound_ok` false -> 'device_unbound';
   * - current token and live: touch (never backwards, in case server clocks disagree);
   * - current token and a deadline passed: tombstone with the policy's reason (absolute wins);
   * - already ended: left as it is (an UPDATE here never clears ended_reason, so a touch racing a
   *   revoke can't revive it: the revoke's row version is rechecked under the row lock).
   * The `prior` sub-select locks the row first and reads its state just before this statement (a plain
   * RETURNING sees only the new values), which tells whether *this* call ended the session.
   */
  const VALIDATE = `
UPDATE ${t} AS s SET
  last_activity_at = CASE
    WHEN s.token_hash = $2 AND s.ended_reason IS NULL
     AND $3::bigint < s.created_at + $5::bigint AND $3::bigint < s.last_activity_at + $4::bigint
     AND ${boundOk('$3', '$6', '$7')}
    THEN GREATEST(s.last_activity_at, $3::bigint)
    ELSE s.last_activity_at END,
  ended_reason = CASE
    WHEN s.token_hash <> $2 OR s.ended_reason IS NOT NULL THEN s.ended_reason
    WHEN $3::bigint >= s.created_at + $5::bigint THEN 'absolute_timeout'
    WHEN $3::bigint >= s.last_activity_at + $4::bigint THEN 'idle_timeout'
    ELSE NULL END,
  ended_at = CASE
    WHEN s.token_hash <> $2 OR s.ended_reason IS NOT NULL THEN s.ended_at
    WHEN $3::bigint >= s.created_at + $5::bigint OR $3::bigint >= s.last_activity_at + $4::bigint THEN $3::bigint
    ELSE NULL END
FROM (SELECT id, ended_reason FROM ${t} WHERE id = $1 FOR NO KEY UPDATE) AS prior
WHERE s.id = $1 AND prior.id = s.id AND (s.token_hash = $2 OR s.prev_token_hash = $2)
RETURNING s.id, s.user_id, s.data, s.created_at, s.last_activity_at, s.user_agent, s.ip, s.rotate_pending,
  s.bound_at, s.ended_reason, s.ended_at, s.token_hash = $2 AS current_token,
  prior.ended_reason IS NULL AS was_open, ${boundOk('$3', '$6', '$7')} AS bound_ok`;

  /** create, step 1: serialize all creates of one user ($1) until commit. */
  const LOCK_USER = `SELECT pg_advisory_xact_lock(hashtextextended('${t}:user:' || $1::text, 0))`;

  /**
   * create, step 2: tombstone the user's dead rows and return the live ones, least recently active
   * first. $1 user, $2 now, $3 idleMs, $4 absoluteMs. Both parts read the same snapshot, so the SELECT
   * filters by the policy itself rather than by the UPDATE's result.
   */
  const PRUNE_AND_LIST_LIVE = `
WITH pruned AS (
  UPDATE ${t} SET
    ended_reason = CASE WHEN $2::bigint >= created_at + $4::bigint THEN 'absolute_timeout' ELSE 'idle_timeout' END,
    ended_at = $2::bigint
  WHERE user_id = $1 AND ended_reason IS NULL
    AND ($2::bigint >= created_at + $4::bigint OR $2::bigint >= last_activity_at + $3::bigint)
  RETURNING id
)
SELECT ${COLUMNS} FROM ${t}
WHERE user_id = $1 AND ${live('$2', '$3', '$4')}
ORDER BY last_activity_at, created_at, id`;

  /** create, step 3 (evict-oldest at the limit): end these live sessions. $1 ids, $2 now. */
  const EVICT = `
UPDATE ${t} SET ended_reason = 'evicted', ended_at = $2::bigint
WHERE id = ANY($1::text[]) AND ended_reason IS NULL
RETURNING ${COLUMNS}`;

  /**
   * create, step 4. $5 createdAt, $8 now (its first activity), $9 and $10 the DBSC registration
   * challenge's hash and expiry (both NULL without one).
   */
  const INSERT = `
INSERT INTO ${t} (id, user_id, token_hash, data, created_at, last_activity_at, user_agent, ip,
  dbsc_challenge, dbsc_challenge_expires_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5::bigint, $8::bigint, $6, $7, $9::bytea, $10::bigint)`;

  /** $1 id, $2 old hash, $3 new hash, $4 data patch (JSON text or NULL), $5 now, $6 idle, $7 abs. */
  const ROTATE = `
UPDATE ${t} SET
  token_hash = $3, prev_token_hash = token_hash,
  last_activity_at = GREATEST(last_activity_at, $5::bigint),
  data = CASE WHEN $4::text IS NULL THEN data ELSE data || $4::text::jsonb END,
  rotate_pending = false
WHERE id = $1 AND token_hash = $2 AND ${live('$5', '$6', '$7')}
RETURNING ${COLUMNS}`;

  /** $1 id, $2 hash, $3 patch JSON, $4 now, $5 idle, $6 abs. Shallow merge (jsonb `||`). */
  const PATCH = `
UPDATE ${t} SET data = data || $3::text::jsonb
WHERE id = $1 AND token_hash = $2 AND ${live('$4', '$5', '$6')}
RETURNING ${COLUMNS}`;

  /**
   * logout. $1 id, $2 hash, $3 reason ('logged_out'), $4 now, $5 idle, $6 abs. The token a rotation just
   * replaced ends the session too: a logout that raced a rotation must end it whichever cookie the
   * browser keeps.
   */
  const LOGOUT = `
UPDATE ${t} SET ended_reason = $3::text, ended_at = $4::bigint
WHERE id = $1 AND (token_hash = $2 OR prev_token_hash = $2) AND ${live('$4', '$5', '$6')}
RETURNING ${COLUMNS}`;

  /** $1 user, $2 id, $3 reason, $4 now, $5 idle, $6 abs. The user_id test stops cross-user revokes. */
  const REVOKE = `
UPDATE ${t} SET ended_reason = $3::text, ended_at = $4::bigint
WHERE id = $2 AND user_id = $1 AND ${live('$4', '$5', '$6')}
RETURNING ${COLUMNS}`;

  /** $1 user, $2 except id (or NULL), $3 reason, $4 now, $5 idle, $6 abs. */
  const REVOKE_ALL = `
UPDATE ${t} SET ended_reason = $3::text, ended_at = $4::bigint
WHERE user_id = $1 AND id IS DISTINCT FROM $2::text AND ${live('$4', '$5', '$6')}
RETURNING ${COLUMNS}`;

  /** $1 user, $2 now, $3 idle, $4 abs. */
  const LIST = `
SELECT ${COLUMNS} FROM ${t}
WHERE user_id = $1 AND ${live('$2', '$3', '$4')}
ORDER BY created_at, id`;

  /** $1 user, $2 patch JSON, $3 rotate, $4 now, $5 idle, $6 abs. */
  const UPDATE_USER = `
UPDATE ${t} SET data = data || $2::text::jsonb, rotate_pending = rotate_pending OR $3::boolean
WHERE user_id = $1 AND ${live('$4', '$5', '$6')}
RETURNING id`;

  /**
   * $1 now, $2 idle, $3 abs, $4 tombstoneMs. A tombstone goes `tombstoneMs` after it ended; an open
   * row `tombstoneMs` after its nearer deadline (the same retention the Redis store gets from TTLs).
   */
  const SWEEP = `
WITH gone AS (
  DELETE FROM ${t}
  WHERE CASE WHEN ended_reason IS NOT NULL THEN ended_at + $4::bigint <= $1::bigint
             ELSE LEAST(last_activity_at + $2::bigint, created_at + $3::bigint) + $4::bigint <= $1::bigint END
  RETURNING 1
)
SELECT count(*)::int AS deleted FROM gone`;

  /**
   * bindDevice: $7 challenge hash, $8 jkt, $9 jwk, $10 alg, $11 bound cookie hash, $12 its expiry,
   * $13 next challenge hash, $14 its expiry. Once: a bound session refuses. Uses the challenge up.
   */
  const BIND_DEVICE = deviceStatement(
    t,
    `WHEN p.bound_at IS NOT NULL THEN 'already_bound'
      WHEN NOT ${CHALLENGE_OK} THEN 'bad_challenge'`,
    {
      bound_jkt: '$8::text',
      bound_jwk: '$9::text',
      bound_alg: '$10::text',
      bound_at: '$3::bigint',
      bound_hash: '$11::bytea',
      bound_expires_at: '$12::bigint',
      bound_prev_hash: 'NULL',
      bound_prev_expires_at: 'NULL',
      dbsc_challenge: '$13::bytea',
      dbsc_challenge_expires_at: '$14::bigint',
    },
  );

  /** deviceChallenge: $7 challenge hash, $8 its expiry (replacing the stored one). Bound only. */
  const DEVICE_CHALLENGE = deviceStatement(t, `WHEN p.bound_at IS NULL THEN 'not_bound'`, {
    dbsc_challenge: '$7::bytea',
    dbsc_challenge_expires_at: '$8::bigint',
  });

  /** deviceKey: no parameters of its own; writes only to end a dead session. */
  const DEVICE_KEY = deviceStatement(t, `WHEN p.bound_at IS NULL THEN 'not_bound'`, {});

  /**
   * refreshDevice: $7 challenge hash, $8 jkt, $9 new bound cookie hash, $10 its expiry, $11 next
   * challenge hash, $12 its expiry. The current bound cookie becomes the previous one (right-hand sides
   * read the row before the update), and the challenge is used up.
   */
  const REFRESH_DEVICE = deviceStatement(
    t,
    `WHEN p.bound_at IS NULL THEN 'not_bound'
      WHEN p.bound_jkt IS DISTINCT FROM $8::text THEN 'wrong_key'
      WHEN NOT ${CHALLENGE_OK} THEN 'bad_challenge'`,
    {
      bound_prev_hash: 's.bound_hash',
      bound_prev_expires_at: 's.bound_expires_at',
      bound_hash: '$9::bytea',
      bound_expires_at: '$10::bigint',
      dbsc_challenge: '$11::bytea',
      dbsc_challenge_expires_at: '$12::bigint',
    },
  );

  return {
    VALIDATE,
    BIND_DEVICE,
    DEVICE_CHALLENGE,
    DEVICE_KEY,
    REFRESH_DEVICE,
    LOCK_USER,
    PRUNE_AND_LIST_LIVE,
    EVICT,
    INSERT,
    ROTATE,
    PATCH,
    LOGOUT,
    REVOKE,
    REVOKE_ALL,
    LIST,
    UPDATE_USER,
    SWEEP,
  };
}

// -- rows -----------------------------------------------------------------------------------------

/** int8 comes back as a string from `pg` and may be a bigint from other drivers. */
function toMs(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new Error(`expected a number of milliseconds, got ${String(value)}`);
  return n;
}

function toData(value: unknown): SessionData {
  const data = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new Error('session data is not an object');
  return data as SessionData;
}

function toSession(row: Record<string, unknown>): StoredSession {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    data: toData(row.data),
    createdAt: toMs(row.created_at),
    lastActivityAt: toMs(row.last_activity_at),
    userAgent: (row.user_agent as string | null) ?? null,
    ip: (row.ip as string | null) ?? null,
    rotatePending: row.rotate_pending === true,
    boundAt: row.bound_at === null || row.bound_at === undefined ? null : toMs(row.bound_at),
  };
}

function byCreatedAt(a: StoredSession, b: StoredSession): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function json(value: SessionData): string {
  return JSON.stringify(value);
}

function validateOutcome(
  row: Record<string, unknown> | undefined,
  now: number,
  policy: StorePolicy,
): ValidateOutcome {
  if (row === undefined) return { ok: false, reason: 'unknown' };
  const ended = (row.ended_reason as EndReason | null) ?? null;
  // An old token of an open session: its successor is out there. Of an ended one: nothing to say.
  if (row.current_token !== true) return { ok: false, reason: ended === null ? 'rotated' : 'unknown' };
  const session = toSession(row);
  // Live, but bound and without a fresh bound cookie: the statement wrote nothing back.
  if (ended === null)
    return row.bound_ok === true ? { ok: true, session } : { ok: false, reason: 'device_unbound' };
  // Only the call that moved the row from open to ended says so (and hands over the record).
  if (row.was_open === true) return { ok: false, reason: ended, ended: true, session };
  // A tombstone past its time reads as gone even before sweep() deletes it (as a Redis TTL would).
  if (toMs(row.ended_at) + policy.tombstoneMs <= now) return { ok: false, reason: 'unknown' };
  return { ok: false, reason: ended };
}

type DeviceMiss = Extract<DeviceOutcome, { ok: false }>;

/**
 * What a device statement's row says. No row: unknown id or token. `ending`: this very call ended the
 * session (the record as it was goes with it).
 */
function deviceOutcome(row: Record<string, unknown> | undefined): DeviceOutcome {
  if (row === undefined) return { ok: false, reason: 'unknown' };
  const session = toSession(row);
  const reason = String(row.outcome) as DeviceMiss['reason'] | 'ok';
  if (reason === 'ok') return { ok: true, session };
  return row.ending === true ? { ok: false, reason, ended: true, session } : { ok: false, reason };
}

/** The key the device statement's row carries (set together with bound_at by bindDevice). */
function deviceKey(row: Record<string, unknown>): DeviceKey {
  return {
    jkt: String(row.bound_jkt),
    jwk: String(row.bound_jwk),
    alg: row.bound_alg as DeviceKey['alg'],
  };
}

// -- the store ------------------------------------------------------------------------------------

export interface SqlStoreOptions {
  /** Names the store in error messages ("postgres", "pglite"). */
  name: string;
  db: SqlExecutor;
  /** The validated table (./schema.ts). */
  table: SessionTable;
  /** How `migrate()` runs; defaults to `migrateSql(db, table)`. */
  migrate?: () => Promise<void>;
}

export function createSqlStore(options: SqlStoreOptions): SqlSessionStore {
  const { name, db, table } = options;
  const sql = statements(table.qualified);

  async function one(statement: string, params: readonly unknown[]): Promise<StoredSession | null> {
    const [row] = await db.query(statement, params);
    return row === undefined ? null : toSession(row);
  }

  /** Runs a device statement: the parameters every one takes ($1-$6), then its own (from $7). */
  async function device(
    statement: string,
    { id, tokenHash, now, policy }: TokenCall,
    own: readonly unknown[],
  ): Promise<Record<string, unknown> | undefined> {
    const [row] = await db.query(statement, [
      id,
      tokenHash,
      now,
      policy.idleMs,
      policy.absoluteMs,
      policy.tombstoneMs,
      ...own,
    ]);
    return row;
  }

  return {
    name,

    // Driver errors leave the session operations below as thrown: the manager's store call is the one
    // place that turns them into SessionStoreError. migrate() is the exception because no manager ever
    // runs it (apps call it at boot, or through `migrate(pool)`), so this is its one wrap, keeping the
    // promise that a store failure reaches the app as SessionStoreError whichever way it came in.
    migrate: async () => {
      try {
        await (options.migrate ?? (() => migrateSql(db, table)))();
      } catch (cause) {
        throw storeFailure(name, 'migrate', cause);
      }
    },

    create: async ({ session, limit, now, policy }) =>
      db.transaction(async (tx): Promise<CreateOutcome> => {
        await tx.query(sql.LOCK_USER, [session.userId]);
        const rows = await tx.query(sql.PRUNE_AND_LIST_LIVE, [
          session.userId,
          now,
          policy.idleMs,
          policy.absoluteMs,
        ]);
        const active = rows.map(toSession);
        let evicted: StoredSession[] = [];
        const excess = active.length - Math.max(0, limit.max - 1);
        if (excess > 0) {
          if (limit.onLimit === 'reject') return { ok: false, active: active.sort(byCreatedAt) };
          // `active` is least recently active first: those are the ones to go.
          const ids = active.slice(0, excess).map((s) => s.id);
          evicted = (await tx.query(sql.EVICT, [ids, now])).map(toSession);
          evicted.sort((a, b) => a.lastActivityAt - b.lastActivityAt || byCreatedAt(a, b));
        }
        await tx.query(sql.INSERT, [
          session.id,
          session.userId,
          session.tokenHash,
          json(session.data),
          session.createdAt,
          session.userAgent,
          session.ip,
          now,
          session.deviceChallenge?.hash ?? null,
          session.deviceChallenge?.expiresAt ?? null,
        ]);
        return { ok: true, evicted };
      }),

    validate: async ({ id, tokenHash, boundHash, now, policy }) => {
      const [row] = await db.query(sql.VALIDATE, [
        id,
        tokenHash,
        now,
        policy.idleMs,
        policy.absoluteMs,
        boundHash ?? null,
        policy.bindingGraceMs,
      ]);
      return validateOutcome(row, now, policy);
    },

    rotate: async ({ id, tokenHash, newTokenHash, patch, now, policy }) =>
      one(sql.ROTATE, [
        id,
        tokenHash,
        newTokenHash,
        patch === null ? null : json(patch),
        now,
        policy.idleMs,
        policy.absoluteMs,
      ]),

    patch: async ({ id, tokenHash, patch, now, policy }) =>
      one(sql.PATCH, [id, tokenHash, json(patch), now, policy.idleMs, policy.absoluteMs]),

    logout: async ({ id, tokenHash, now, policy }) =>
      one(sql.LOGOUT, [id, tokenHash, 'logged_out', now, policy.idleMs, policy.absoluteMs]),

    revoke: async ({ userId, id, reason, now, policy }) =>
      one(sql.REVOKE, [userId, id, reason, now, policy.idleMs, policy.absoluteMs]),

    revokeAll: async ({ userId, exceptId, reason, now, policy }) => {
      const rows = await db.query(sql.REVOKE_ALL, [
        userId,
        exceptId,
        reason,
        now,
        policy.idleMs,
        policy.absoluteMs,
      ]);
      return rows.map(toSession).sort(byCreatedAt);
    },

    list: async ({ userId, now, policy }) => {
      const rows = await db.query(sql.LIST, [userId, now, policy.idleMs, policy.absoluteMs]);
      return rows.map(toSession);
    },

    updateUser: async ({ userId, patch, rotate, now, policy }) => {
      const rows = await db.query(sql.UPDATE_USER, [
        userId,
        json(patch),
        rotate,
        now,
        policy.idleMs,
        policy.absoluteMs,
      ]);
      return rows.length;
    },

    bindDevice: async ({ challengeHash, key, bound, next, ...call }) =>
      deviceOutcome(
        await device(sql.BIND_DEVICE, call, [
          challengeHash,
          key.jkt,
          key.jwk,
          key.alg,
          bound.hash,
          bound.expiresAt,
          next.hash,
          next.expiresAt,
        ]),
      ),

    deviceChallenge: async ({ challenge, ...call }) =>
      deviceOutcome(await device(sql.DEVICE_CHALLENGE, call, [challenge.hash, challenge.expiresAt])),

    deviceKey: async (call) => {
      const row = await device(sql.DEVICE_KEY, call, []);
      const outcome = deviceOutcome(row);
      return outcome.ok ? { ok: true, key: deviceKey(row!), session: outcome.session } : outcome;
    },

    refreshDevice: async ({ jkt, challengeHash, bound, next, ...call }) =>
      deviceOutcome(
        await device(sql.REFRESH_DEVICE, call, [
          challengeHash,
          jkt,
          bound.hash,
          bound.expiresAt,
          next.hash,
          next.expiresAt,
        ]),
      ),

    sweep: async ({ now, policy }) => {
      const [row] = await db.query(sql.SWEEP, [now, policy.idleMs, policy.absoluteMs, policy.tombstoneMs]);
      return row === undefined ? 0 : toMs(row.deleted);
    },
  };
}
