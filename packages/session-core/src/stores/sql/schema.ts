import { SessionConfigError } from '../../errors.js';

/** The table both SQL stores use unless told otherwise. */
export const DEFAULT_TABLE = 'tessera_sessions';

// Lower case only: PostgreSQL folds unquoted names to lower case, so `Sessions` would silently become
// `sessions`. The table part leaves room for the longest derived name (`<table>_token_hash_len`)
// within PostgreSQL's 63-byte identifiers, which it would otherwise truncate (and could collide).
const PART = /^[a-z_][a-z0-9_]*$/;
const MAX_SCHEMA = 63;
const MAX_TABLE = 63 - '_token_hash_len'.length;

/** The table's name, split into an optional schema and the name proper. */
export interface SessionTable {
  /** As written in statements: `tessera_sessions` or `auth.sessions`. */
  qualified: string;
  /** Without the schema: the prefix of the constraint and index names. */
  name: string;
}

/**
 * Validates a table name for the SQL stores: `name` or `schema.name`, lower-case letters, digits and
 * `_`, not starting with a digit. It is spliced into statements, so nothing else may pass. The schema,
 * when given, must exist already; `migrate` creates only the table and its index.
 */
export function sessionTable(table: unknown = DEFAULT_TABLE): SessionTable {
  const parts = typeof table === 'string' ? table.split('.') : [];
  const name = parts.at(-1) ?? '';
  const schema = parts.length === 2 ? parts[0]! : null;
  const valid =
    (parts.length === 1 || parts.length === 2) &&
    parts.every((part) => PART.test(part)) &&
    name.length <= MAX_TABLE &&
    (schema === null || schema.length <= MAX_SCHEMA);
  if (!valid) {
    throw new SessionConfigError(
      `table must be a lower-case SQL identifier, optionally schema-qualified (e.g. 'tessera_sessions', ` +
        `'auth.sessions'; at most ${MAX_TABLE} characters), got ${JSON.stringify(table)}`,
    );
  }
  return { qualified: table as string, name };
}

/**
 * The schema of the SQL stores as one idempotent script: what `migrate()` runs, and what to hand to
 * your own migration tool instead (`migrationSql({ table })`; default table `tessera_sessions`).
 */
export function migrationSql(options: { table?: string } = {}): string {
  const { qualified: t, name } = sessionTable(options.table ?? DEFAULT_TABLE);
  return `-- Tessera sessions table. Idempotent: safe to run on every boot (migrate() also holds an advisory
-- lock so that two instances booting at once don't race on CREATE).
--
-- Times are milliseconds since the epoch from the session manager's clock, never the database's.
-- A row is live iff ended_reason IS NULL AND now < created_at + absoluteMs
--                                        AND now < last_activity_at + idleMs.
-- An ended row is a tombstone: kept until sweep() so a late request learns why it ended.
--
-- fillfactor 80 leaves room on each page so that validate's UPDATE (which only changes
-- last_activity_at, or ended_reason/ended_at, none of them indexed) stays a HOT update: no index
-- writes, and the old version is pruned in place. Don't index last_activity_at or ended_*.
CREATE TABLE IF NOT EXISTS ${t} (
  id               text    PRIMARY KEY,           -- public session id (safe to show, used to revoke)
  user_id          text    NOT NULL,
  token_hash       bytea   NOT NULL,              -- SHA-256(token); the raw token is never stored
  prev_token_hash  bytea,                         -- the hash before the last rotation -> 'rotated'
  data             jsonb   NOT NULL DEFAULT '{}'::jsonb,
  created_at       bigint  NOT NULL,              -- login time, never changes (not even on rotation)
  last_activity_at bigint  NOT NULL,
  user_agent       text,
  ip               text,
  rotate_pending   boolean NOT NULL DEFAULT false,
  ended_reason     text,                          -- NULL while open; set once, never cleared
  ended_at         bigint,
  CONSTRAINT ${name}_token_hash_len CHECK (octet_length(token_hash) = 32),
  -- No CHECK on the reason's values: the end reasons may grow without a migration.
  CONSTRAINT ${name}_ended CHECK ((ended_reason IS NULL) = (ended_at IS NULL))
) WITH (fillfactor = 80);

-- list, revokeAll, updateUser and the per-user limit in create all go by user.
CREATE INDEX IF NOT EXISTS ${name}_user_id_idx ON ${t} (user_id);

-- Device binding (DBSC; added after 1.0.0): NULL while a session is unbound. Added here rather than in
-- CREATE TABLE above so that this one script both creates a table and upgrades one made by 1.0.0.
-- Nullable without a default: a catalog change, no table rewrite. Never indexed, and validate never
-- writes them, so its UPDATE stays HOT. Hashes only (SHA-256), as for the token: no secret is stored.
-- The ALTER runs only while a column is missing: ALTER TABLE takes an ACCESS EXCLUSIVE lock even when
-- there is nothing to add, and this script runs at every boot.
DO $$
BEGIN
  IF (SELECT count(*) FROM pg_attribute
      WHERE attrelid = '${t}'::regclass AND NOT attisdropped AND attname IN ('dbsc_challenge',
        'dbsc_challenge_expires_at', 'bound_jkt', 'bound_jwk', 'bound_alg', 'bound_at', 'bound_hash',
        'bound_expires_at', 'bound_prev_hash', 'bound_prev_expires_at')) < 10 THEN
    ALTER TABLE ${t}
      ADD COLUMN IF NOT EXISTS dbsc_challenge            bytea,  -- the one DBSC challenge, single use
      ADD COLUMN IF NOT EXISTS dbsc_challenge_expires_at bigint,
      ADD COLUMN IF NOT EXISTS bound_jkt                 text,   -- device key thumbprint (RFC 7638)
      ADD COLUMN IF NOT EXISTS bound_jwk                 text,   -- device public key, canonical JSON
      ADD COLUMN IF NOT EXISTS bound_alg                 text,   -- 'ES256' | 'RS256'
      ADD COLUMN IF NOT EXISTS bound_at                  bigint, -- set once, when the session binds
      ADD COLUMN IF NOT EXISTS bound_hash                bytea,  -- SHA-256(bound cookie)
      ADD COLUMN IF NOT EXISTS bound_expires_at          bigint,
      ADD COLUMN IF NOT EXISTS bound_prev_hash           bytea,  -- the bound cookie the last refresh replaced
      ADD COLUMN IF NOT EXISTS bound_prev_expires_at     bigint;
  END IF;
END
$$;
`;
}
