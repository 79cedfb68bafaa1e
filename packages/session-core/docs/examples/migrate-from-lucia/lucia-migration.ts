// lucia-migration.ts: moves a user still signed in through Lucia (the v3 library, or the token guide
// that replaced it) to a Tessera session on their next request, once. Copy it into your app; delete it
// once Lucia's sessionExpiresIn has passed since the switch.
import { createHash } from 'node:crypto';
import {
  blankCookie,
  type IssuedSession,
  type RevokeReason,
  readCookie,
  type Session,
  type SessionManager,
  serializeCookie,
} from '@tessera/session-core';

/** A row of Lucia's session table: its three columns and any session attributes you added. */
export interface LuciaRow {
  id: string;
  user_id: string | number;
  expires_at: Date;
  [column: string]: unknown;
}

/** The one method used of a `pg.Pool`, a `pg.Client` or a PGlite instance. */
export interface Queryable {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface LuciaMigrationOptions<TData extends object> {
  sessions: Pick<SessionManager<TData>, 'create' | 'logout' | 'revokeAll'>;
  /** The database holding Lucia's session table. */
  db: Queryable;
  /** Lucia's session table. Default `'user_session'`. */
  table?: string;
  /** Lucia's cookie: `'auth_session'` (v3, the default) or `'session'` (the token guide's). */
  cookieName?: string;
  /** The row id a cookie stands for, or null. Default `luciaSessionId`. */
  sessionId?: (cookieValue: string) => string | null;
  /** What of the row (your session attributes) becomes Tessera session data. Default: nothing. */
  data?: (row: LuciaRow) => TData;
}

export interface Migrated<TData extends object> {
  session: Session<TData>;
  /** The new token (it is in the Tessera cookie of `setCookie`). */
  token: string;
  /** `Set-Cookie` values to add to the response: the Tessera cookie, and one clearing Lucia's. */
  setCookie: string[];
}

/**
 * The row id a Lucia cookie stands for. v3's cookie is the id itself (40 characters, a-z 0-9); the token
 * guide's cookie is a token (20 random bytes, 32 base32 characters) and the id is its SHA-256 in hex.
 * Nothing else is looked up: a 64-character hex id read from a leaked table must not open a session.
 */
export function luciaSessionId(cookieValue: string): string | null {
  if (/^[a-z0-9]{40}$/.test(cookieValue)) return cookieValue;
  if (/^[a-z2-7]{32}$/.test(cookieValue)) return createHash('sha256').update(cookieValue).digest('hex');
  return null;
}

export function luciaMigration<TData extends object>(options: LuciaMigrationOptions<TData>) {
  const { sessions, db, table = 'user_session', sessionId = luciaSessionId } = options;
  // The table name is spliced into SQL: only a plain, optionally schema-qualified identifier.
  if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(table)) throw new TypeError(`table: '${table}'`);
  const cookieName = options.cookieName ?? 'auth_session';
  const clearOld = serializeCookie(blankCookie({ name: cookieName, secure: true, sameSite: 'lax' }));

  return {
    /**
     * For a request without a Tessera cookie: when its Lucia cookie opens a live Lucia session, creates
     * a Tessera session for that user and deletes the Lucia row. Otherwise null, and nothing changed.
     */
    async migrate(request: {
      cookie: string | null | undefined;
      userAgent?: string | null;
      ip?: string | null;
    }): Promise<Migrated<TData> | null> {
      const read = readCookie(request.cookie, cookieName);
      if (read.status !== 'found') return null;
      const id = sessionId(read.value);
      if (!id) return null;
      // Lucia's own rule: live while now < expires_at.
      const found = await db.query(`SELECT * FROM ${table} WHERE id = $1 AND expires_at > $2`, [
        id,
        new Date(),
      ]);
      const row = found.rows[0] as LuciaRow | undefined;
      if (!row) return null;

      // Claim it: of parallel requests carrying this cookie only one moves the row to 1970, so one old
      // session makes one new one (creating several would spend the user's session limit).
      const claimed = await db.query(
        `UPDATE ${table} SET expires_at = to_timestamp(0) WHERE id = $1 AND expires_at > $2 RETURNING id`,
        [id, new Date()],
      );
      if (claimed.rows.length === 0) return null;
      let created: IssuedSession<TData>;
      try {
        created = await sessions.create({
          userId: String(row.user_id),
          data: options.data?.(row),
          userAgent: request.userAgent,
          ip: request.ip,
        });
      } catch (error) {
        // The store is down (a 503) or refused: give the old session back, so a later request retries.
        await db
          .query(`UPDATE ${table} SET expires_at = $2 WHERE id = $1`, [id, row.expires_at])
          .catch(() => {});
        throw error;
      }
      // Gone already? A revokeAll deleted it since the claim: it may have missed the new session.
      const deleted = await db.query(`DELETE FROM ${table} WHERE id = $1 RETURNING id`, [id]);
      if (deleted.rows.length === 0) {
        await sessions.logout(created.token);
        return null;
      }
      return {
        session: created.session,
        token: created.token,
        setCookie: [serializeCookie(created.cookie), clearOld],
      };
    },

    /**
     * `sessions.revokeAll` that ends the user's Lucia sessions too (after a password change, say): use it
     * instead while the shim is in place. Lucia's rows go first so none migrates past it.
     */
    async revokeAll(userId: string, revokeOptions?: { except?: string; reason?: RevokeReason }) {
      await db.query(`DELETE FROM ${table} WHERE user_id = $1`, [userId]);
      return sessions.revokeAll(userId, revokeOptions);
    },
  };
}
