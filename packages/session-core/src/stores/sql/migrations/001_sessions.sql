-- Tessera sessions table. Idempotent: safe to run on every boot (migrate() also holds an advisory
-- lock so that two instances booting at once don't race on CREATE).
--
-- Times are milliseconds since the epoch from the manager's injected clock, never the database's.
-- A row is live iff ended_reason IS NULL AND now < created_at + absoluteMs
--                                        AND now < last_activity_at + idleMs   (see src/policy.ts).
-- An ended row is a tombstone: kept until sweep() so a late request learns why it ended.
--
-- fillfactor 80 leaves room on each page so that validate's UPDATE (which only changes
-- last_activity_at, or ended_reason/ended_at, none of them indexed) stays a HOT update: no index
-- writes, and the old version is pruned in place. Don't index last_activity_at or ended_*.
CREATE TABLE IF NOT EXISTS tessera_sessions (
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
  CONSTRAINT tessera_sessions_token_hash_len CHECK (octet_length(token_hash) = 32),
  -- No CHECK on the reason's values: EndReason (src/store.ts) may grow without a migration.
  CONSTRAINT tessera_sessions_ended CHECK ((ended_reason IS NULL) = (ended_at IS NULL))
) WITH (fillfactor = 80);

-- list, revokeAll, updateUser and the per-user limit in create all go by user.
CREATE INDEX IF NOT EXISTS tessera_sessions_user_id_idx ON tessera_sessions (user_id);
