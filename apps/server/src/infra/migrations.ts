import type { Database } from './database.js';

/**
 * The server's own schema (the session store migrates its table itself). Versioned and applied in
 * order inside one transaction that holds an advisory lock, so instances booting together don't race.
 * Times are milliseconds since the epoch (bigint), like the session store's.
 */
const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'users',
    sql: `
      CREATE TABLE tessera_users (
        id                  text   PRIMARY KEY,
        email               text   NOT NULL CHECK (length(email) <= 254),
        password_hash       text   NOT NULL,              -- argon2id PHC string
        role                text   NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
        mfa_secret          text,                         -- base32 TOTP secret; NULL = MFA off
        mfa_last_step       bigint,                       -- last accepted TOTP time step (no replay)
        password_changed_at bigint NOT NULL,
        created_at          bigint NOT NULL
      );
      -- Case-insensitive uniqueness without the citext extension (PGlite ships it separately).
      CREATE UNIQUE INDEX tessera_users_email_key ON tessera_users (lower(email));
    `,
  },
  {
    version: 2,
    name: 'auth grants and rate limits',
    sql: `
      -- Short-lived, server-side proofs of a partial sign-in: MFA challenges and session-limit tickets.
      -- Only SHA-256(token) is stored; the token itself lives in a cookie or a response body.
      CREATE TABLE tessera_auth_grants (
        token_hash   bytea  PRIMARY KEY CHECK (octet_length(token_hash) = 32),
        user_id      text   NOT NULL,
        payload      jsonb  NOT NULL DEFAULT '{}'::jsonb,
        attempts     int    NOT NULL DEFAULT 0,
        max_attempts int    NOT NULL,
        expires_at   bigint NOT NULL
      );
      CREATE INDEX tessera_auth_grants_expires_idx ON tessera_auth_grants (expires_at);

      -- Fixed-window counters for the credential rate limits (when Redis is not configured).
      CREATE TABLE tessera_rate_limits (
        key      text   PRIMARY KEY,
        hits     int    NOT NULL,
        reset_at bigint NOT NULL
      );
      CREATE INDEX tessera_rate_limits_reset_idx ON tessera_rate_limits (reset_at);
    `,
  },
  {
    version: 3,
    name: 'totp secrets encrypted at rest',
    sql: `
      -- mfa_secret now holds the secret sealed with a key kept outside the database
      -- (users/totp-secrets.ts): 'v1.<key id>.<nonce>.<ciphertext>'. NOT VALID: rows written in clear
      -- before this version are left to the server, which seals them right after migrating (that
      -- needs the key); every row written from now on must be sealed, so no code path can store a
      -- secret in clear again.
      ALTER TABLE tessera_users ADD CONSTRAINT tessera_users_mfa_secret_sealed
        CHECK (mfa_secret IS NULL OR mfa_secret ~ '^v[0-9]+\\.') NOT VALID;
      COMMENT ON COLUMN tessera_users.mfa_secret IS
        'TOTP secret sealed with AES-256-GCM (key outside the database); NULL = MFA off';
    `,
  },
  {
    version: 4,
    name: 'server secrets',
    sql: `
      -- Secrets the server generates once and every instance sharing this database reads
      -- (infra/server-secrets.ts), e.g. 'session_tag': the key of the Redis session store's user shard
      -- tag when SESSION_TAG_SECRET is not set. Never a secret that protects this database's own rows.
      CREATE TABLE tessera_server_secrets (
        name       text   PRIMARY KEY,
        value      bytea  NOT NULL CHECK (octet_length(value) >= 32),
        created_at bigint NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'audit events',
    sql: `
      -- The security events of audit/events.ts, written in batches by audit/audit-log.ts. Listed
      -- newest first by (at, id): the time the event happened, then the id (write order) to break
      -- ties, which is also the keyset cursor; every listing below reads one of these indexes backward
      -- from the cursor, so a page costs the same at any depth and in any time range. The type list
      -- is AUDIT_EVENT_TYPES: a new type needs a migration that replaces this CHECK. No foreign key to
      -- tessera_users: a failed sign-in may name no user, and an event is kept for its retention
      -- (AUDIT_RETENTION) whatever happens to the account. Never a token, a password, a TOTP secret
      -- or a code (docs/SECURITY.md, "Audit trail").
      CREATE TABLE tessera_audit_events (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at               bigint NOT NULL,
        type             text   NOT NULL CHECK (type IN ('sign_in', 'sign_in_failed', 'mfa_enabled',
                           'mfa_disabled', 'password_changed', 'session_ended', 'role_changed',
                           'account_disabled', 'account_enabled', 'rate_limited')),
        user_id          text,
        actor_kind       text   NOT NULL CHECK (actor_kind IN ('self', 'session', 'admin', 'system')),
        actor_user_id    text,
        actor_session_id text,
        ip               text   CHECK (length(ip) <= 64),
        user_agent       text   CHECK (length(user_agent) <= 512),
        session_id       text,
        reason           text   CHECK (length(reason) <= 64),
        detail           jsonb  NOT NULL DEFAULT '{}'::jsonb
      );
      -- A person's Recent activity and an admin's user page (also with a time range):
      --   WHERE user_id = $1 [AND at >= $from AND at < $to] [AND (at, id) < ($cursor)]
      --   ORDER BY at DESC, id DESC LIMIT n
      CREATE INDEX tessera_audit_events_user_idx ON tessera_audit_events (user_id, at, id);
      -- The audit log filtered by one type (several types: the next index, filtered):
      --   WHERE type = $1 [AND at ...] [AND (at, id) < ($cursor)] ORDER BY at DESC, id DESC LIMIT n
      CREATE INDEX tessera_audit_events_type_idx ON tessera_audit_events (type, at, id);
      -- The whole audit log, by time range or not:
      --   WHERE [at >= $from AND at < $to] [AND (at, id) < ($cursor)] ORDER BY at DESC, id DESC LIMIT n
      -- and pruning, oldest first in chunks: WHERE at < now - AUDIT_RETENTION ORDER BY at LIMIT n
      CREATE INDEX tessera_audit_events_at_idx ON tessera_audit_events (at, id);
    `,
  },
  {
    version: 6,
    name: 'account disable and email search',
    sql: `
      -- When an administrator disabled the account (ms); NULL: enabled.
      ALTER TABLE tessera_users ADD COLUMN disabled_at bigint;
      -- The admin console's user search: emails starting with a prefix, case-insensitively, one page
      -- at a time (users/repository.ts list):
      --   WHERE lower(email) LIKE 'prefix%' AND lower(email) ~>=~ $key ...
      --   ORDER BY lower(email) USING ~<~, id LIMIT n
      -- text_pattern_ops compares bytes whatever the database's collation, so the same index gives
      -- the LIKE prefix range, the keyset bound and the order (an index in the collation's order can't
      -- serve a LIKE prefix unless the collation is C).
      CREATE INDEX tessera_users_email_prefix_idx ON tessera_users (lower(email) text_pattern_ops, id);
    `,
  },
  {
    version: 7,
    name: 'audit events of device-bound sessions',
    sql: `
      -- AUDIT_EVENT_TYPES gains device_bound and device_proof_refused (DBSC, docs/DBSC.md). NOT VALID:
      -- every existing row passed the narrower list it replaces, so there is nothing to check, and a
      -- full scan of a large audit table under this lock would hold up every audit write for nothing.
      ALTER TABLE tessera_audit_events DROP CONSTRAINT tessera_audit_events_type_check;
      ALTER TABLE tessera_audit_events ADD CONSTRAINT tessera_audit_events_type_check
        CHECK (type IN ('sign_in', 'sign_in_failed', 'mfa_enabled', 'mfa_disabled', 'password_changed',
          'session_ended', 'role_changed', 'account_disabled', 'account_enabled', 'rate_limited',
          'device_bound', 'device_proof_refused')) NOT VALID;
    `,
  },
];

export async function migrate(db: Database, now: () => number = Date.now): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['tessera_server:migrate']);
    await tx.script(`CREATE TABLE IF NOT EXISTS tessera_schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    const rows = await tx.query<{ version: number }>('SELECT version FROM tessera_schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await tx.script(m.sql);
      await tx.query(
        'INSERT INTO tessera_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
        [m.version, m.name, now()],
      );
      applied.push(m.version);
    }
    return applied;
  });
}
