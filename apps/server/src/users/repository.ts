import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../auth/secret-box.js';
import { type Database, toNumber } from '../infra/database.js';
import {
  openPendingTotpSecret,
  openTotpSecret,
  sealPendingTotpSecret,
  sealTotpSecret,
} from './totp-secrets.js';

export type Role = 'user' | 'admin';
export const ROLES = ['user', 'admin'] as const;

export interface User {
  id: string;
  email: string;
  passwordHash: string;
  role: Role;
  /**
   * Base32 TOTP secret, opened from its encrypted form (users/totp-secrets.ts); null when MFA is off.
   * Reading a user whose secret can't be opened throws TotpSecretUnreadableError.
   */
  mfaSecret: string | null;
  mfaEnabled: boolean;
  /** The last TOTP time step accepted, so a code can't be used twice. */
  mfaLastStep: number | null;
  passwordChangedAt: number;
  createdAt: number;
  /** When an administrator disabled the account (ms); null while it is enabled. */
  disabledAt: number | null;
}

/** A user as listed (admin.listUsers, the CLI): no password hash, no TOTP secret. */
export type UserSummary = Pick<
  User,
  'id' | 'email' | 'role' | 'mfaEnabled' | 'passwordChangedAt' | 'createdAt' | 'disabledAt'
>;

/** Where a page of users (ordered by lowercased email, then id) resumes: the last row of the one before. */
export interface UserKey {
  /** lower(email), as the database computed it. */
  email: string;
  id: string;
}

/** What may be shown to the user themself or an admin: never the hash or the MFA secret. */
export interface PublicUser {
  id: string;
  email: string;
  role: Role;
  mfaEnabled: boolean;
}

export const publicUser = (u: UserSummary): PublicUser => ({
  id: u.id,
  email: u.email,
  role: u.role,
  mfaEnabled: u.mfaEnabled,
});

export class EmailTakenError extends Error {
  constructor(email: string) {
    super(`a user with email ${email} already exists`);
    this.name = 'EmailTakenError';
  }
}

const COLUMNS =
  'id, email, password_hash, role, mfa_secret, mfa_last_step, password_changed_at, created_at, disabled_at';
const SUMMARY_COLUMNS =
  'id, email, role, mfa_secret IS NOT NULL AS mfa_enabled, password_changed_at, created_at, disabled_at';

const nullableNumber = (value: unknown): number | null => (value == null ? null : toNumber(value));

/** A LIKE pattern matching strings that start with `prefix` literally (`\` is LIKE's default escape). */
export const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, '\\$&')}%`;

function toSummary(row: Record<string, unknown>): UserSummary {
  return {
    id: String(row.id),
    email: String(row.email),
    role: row.role === 'admin' ? 'admin' : 'user',
    mfaEnabled: row.mfa_enabled === true,
    passwordChangedAt: toNumber(row.password_changed_at),
    createdAt: toNumber(row.created_at),
    disabledAt: nullableNumber(row.disabled_at),
  };
}

export type UserRepository = ReturnType<typeof userRepository>;

export interface UserRepositoryOptions {
  /** Seals TOTP secrets before they are written and opens them when read (auth/totp-keys.ts). */
  secrets: SecretBox;
  /** ms since epoch. Default Date.now. */
  clock?: () => number;
}

/**
 * Users in `tessera_users`. Emails are unique case-insensitively (`lower(email)` index). TOTP secrets
 * are encrypted here, on their way in and out, so nothing above this file handles the stored form.
 */
export function userRepository(db: Database, options: UserRepositoryOptions) {
  const { secrets } = options;
  const clock = options.clock ?? Date.now;
  const toUser = (row: Record<string, unknown>): User => {
    const id = String(row.id);
    return {
      id,
      email: String(row.email),
      passwordHash: String(row.password_hash),
      role: row.role === 'admin' ? 'admin' : 'user',
      mfaSecret: row.mfa_secret == null ? null : openTotpSecret(secrets, id, String(row.mfa_secret)),
      mfaEnabled: row.mfa_secret != null,
      mfaLastStep: row.mfa_last_step == null ? null : toNumber(row.mfa_last_step),
      passwordChangedAt: toNumber(row.password_changed_at),
      createdAt: toNumber(row.created_at),
      disabledAt: nullableNumber(row.disabled_at),
    };
  };
  const one = async (sql: string, params: unknown[]): Promise<User | null> => {
    const rows = await db.query(sql, params);
    return rows[0] ? toUser(rows[0]) : null;
  };

  return {
    findByEmail: (email: string) =>
      one(`SELECT ${COLUMNS} FROM tessera_users WHERE lower(email) = lower($1)`, [email]),

    findById: (id: string) => one(`SELECT ${COLUMNS} FROM tessera_users WHERE id = $1`, [id]),

    /** @throws EmailTakenError */
    async create(input: { email: string; passwordHash: string; role?: Role }): Promise<User> {
      const now = clock();
      try {
        const user = await one(
          `INSERT INTO tessera_users (id, email, password_hash, role, password_changed_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $5) RETURNING ${COLUMNS}`,
          [randomUUID(), input.email, input.passwordHash, input.role ?? 'user', now],
        );
        return user!;
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') throw new EmailTakenError(input.email);
        throw error;
      }
    },

    async setPassword(id: string, passwordHash: string, changedAt = clock()): Promise<boolean> {
      const rows = await db.query(
        'UPDATE tessera_users SET password_hash = $2, password_changed_at = $3 WHERE id = $1 RETURNING id',
        [id, passwordHash, changedAt],
      );
      return rows.length === 1;
    },

    /** Replaces the hash only if it is still `expected` (a rehash must not undo a password change). */
    async upgradeHash(id: string, expected: string, passwordHash: string): Promise<void> {
      await db.query('UPDATE tessera_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2', [
        id,
        expected,
        passwordHash,
      ]);
    },

    setRole: (id: string, role: Role) =>
      one(`UPDATE tessera_users SET role = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [id, role]),

    /** Turns MFA on (with the step just used for confirmation) or off (`secret` null). */
    async setMfa(id: string, secret: string | null, step: number | null): Promise<void> {
      await db.query('UPDATE tessera_users SET mfa_secret = $2, mfa_last_step = $3 WHERE id = $1', [
        id,
        secret === null ? null : sealTotpSecret(secrets, id, secret),
        step,
      ]);
    },

    /**
     * Turns MFA on with `secret`, only while it is off: false when another request turned it on first
     * (a factor in force is never replaced by a second enrollment).
     */
    async enableMfa(id: string, secret: string, step: number): Promise<boolean> {
      const rows = await db.query(
        `UPDATE tessera_users SET mfa_secret = $2, mfa_last_step = $3
         WHERE id = $1 AND mfa_secret IS NULL RETURNING id`,
        [id, sealTotpSecret(secrets, id, secret), step],
      );
      return rows.length === 1;
    },

    /** Seals the secret of an enrollment begun by user `id`, for the session store (see totp-secrets.ts). */
    sealPendingSecret: (id: string, secret: string): string => sealPendingTotpSecret(secrets, id, secret),

    /** The pending secret sealed by sealPendingSecret for user `id`; null when it can't be opened. */
    openPendingSecret: (id: string, sealed: string): string | null =>
      openPendingTotpSecret(secrets, id, sealed),

    /**
     * Records that the TOTP code of `step` was used. Atomic: of two requests with the same code only
     * one gets true (RFC 6238 section 5.2: a verifier must not accept the same OTP twice).
     */
    async consumeTotpStep(id: string, step: number): Promise<boolean> {
      const rows = await db.query(
        `UPDATE tessera_users SET mfa_last_step = $2
         WHERE id = $1 AND mfa_secret IS NOT NULL AND (mfa_last_step IS NULL OR mfa_last_step < $2)
         RETURNING id`,
        [id, step],
      );
      return rows.length === 1;
    },

    /**
     * One page of users ordered by lowercased email, then id, after `after` (keyset pagination:
     * a page costs the same at any depth), optionally only emails starting with `query`
     * (case-insensitive, taken literally). Summaries only, so a listing never opens (or carries) a
     * secret.
     *
     * Served by tessera_users_email_prefix_idx, (lower(email) text_pattern_ops, id): the order, the
     * keyset bound and the prefix all use that index's byte-wise operators (`~<~`, `~>~`, LIKE with a
     * fixed prefix), so the scan starts at the right row whatever the database's collation, and the
     * order the rows come in is the order the bound compares with (a collation-aware ORDER BY next to
     * a byte-wise bound would skip or repeat rows on a non-C collation).
     */
    async list(page: {
      query?: string | null;
      after?: UserKey | null;
      limit: number;
    }): Promise<(UserSummary & { key: UserKey })[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      if (page.query) {
        params.push(likePrefix(page.query));
        // lower() of a bound parameter folds to a constant when the statement is planned (unnamed
        // statements are planned with their values), so the LIKE prefix becomes an index range.
        where.push(`lower(email) LIKE lower($${params.length})`);
      }
      if (page.after) {
        params.push(page.after.email, page.after.id);
        const e = `$${params.length - 1}`;
        const i = `$${params.length}`;
        where.push(`lower(email) ~>=~ ${e} AND (lower(email) ~>~ ${e} OR id > ${i})`);
      }
      params.push(page.limit);
      const rows = await db.query(
        `SELECT ${SUMMARY_COLUMNS}, lower(email) AS email_key FROM tessera_users
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY lower(email) USING ~<~, id LIMIT $${params.length}`,
        params,
      );
      return rows.map((row) => ({
        ...toSummary(row),
        key: { email: String(row.email_key), id: String(row.id) },
      }));
    },

    /** Emails by user id, in one read (the audit log's page names the users it shows). */
    async emailsByIds(ids: readonly string[]): Promise<Map<string, string>> {
      const unique = [...new Set(ids)];
      if (unique.length === 0) return new Map();
      const rows = await db.query('SELECT id, email FROM tessera_users WHERE id = ANY($1::text[])', [unique]);
      return new Map(rows.map((r) => [String(r.id), String(r.email)]));
    },

    /** The id of the user with this email (case-insensitive), without reading anything else. */
    async idByEmail(email: string): Promise<string | null> {
      const rows = await db.query('SELECT id FROM tessera_users WHERE lower(email) = lower($1)', [email]);
      return rows[0] ? String(rows[0].id) : null;
    },

    /**
     * Disables the account (`at`: when) or enables it again (null). Returns the user, or null when
     * there is none. Ending its sessions is the caller's part (admin.setDisabled, the CLI).
     */
    setDisabled: (id: string, at: number | null) =>
      one(`UPDATE tessera_users SET disabled_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [id, at]),

    async count(): Promise<number> {
      const rows = await db.query('SELECT count(*) AS n FROM tessera_users');
      return toNumber(rows[0]?.n ?? 0);
    },

    /** Administrators whose account is enabled: the ones who can still act. */
    async countEnabledAdmins(): Promise<number> {
      const rows = await db.query(
        `SELECT count(*) AS n FROM tessera_users WHERE role = 'admin' AND disabled_at IS NULL`,
      );
      return toNumber(rows[0]?.n ?? 0);
    },
  };
}
