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
