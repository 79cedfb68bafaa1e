/**
 * TOTP secrets at rest in `tessera_users.mfa_secret`: sealed with auth/secret-box.ts, bound to the
 * user's id (a sealed secret copied to another user's row does not open). The repository seals and
 * opens one row at a time; this file also holds what runs over the whole column: sealing rows written
 * before encryption existed (at every start), counting secrets per key, and re-encrypting them all
 * with the current key (`pnpm cli mfa rekey`).
 */
import { type SecretBox, SecretBoxError, type SecretBoxFailure } from '../auth/secret-box.js';
import { type Database, toNumber } from '../infra/database.js';

const context = (userId: string) => `tessera_users.mfa_secret:${userId}`;
const pendingContext = (userId: string) => `session.mfaPending:${userId}`;

/**
 * A stored TOTP secret that can't be opened: its key is not configured, or the value was altered or
 * moved. A server error (500, logged with the user id and key id, never the value): never read as
 * "MFA off", which would let the password alone in.
 */
export class TotpSecretUnreadableError extends Error {
  constructor(
    readonly userId: string,
    readonly reason: SecretBoxFailure,
    readonly keyId: string | null,
    detail: string,
  ) {
    super(`the TOTP secret of user ${userId} can't be read: ${detail}`);
    this.name = 'TotpSecretUnreadableError';
  }
}

export const sealTotpSecret = (box: SecretBox, userId: string, secret: string): string =>
  box.seal(secret, context(userId));

/** @throws TotpSecretUnreadableError */
export function openTotpSecret(box: SecretBox, userId: string, stored: string): string {
  try {
    return box.open(stored, context(userId));
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    const detail =
      error.reason === 'unknown_key'
        ? `${error.message}; add that key to TOTP_ENCRYPTION_KEYS (docs: apps/server/README.md, "TOTP secrets at rest")`
        : error.message;
    throw new TotpSecretUnreadableError(userId, error.reason, error.keyId, detail);
  }
}

/**
 * The secret of an enrollment not yet confirmed, as it waits in the session store (mfa.beginEnrollment).
 * Sealed too: confirmation turns that very secret into the factor, and a session store's dump, AOF or
 * dead SQL rows keep it after the session forgot it.
 */
export const sealPendingTotpSecret = (box: SecretBox, userId: string, secret: string): string =>
  box.seal(secret, pendingContext(userId));

/**
 * Opens a pending secret; null when it can't be (sealed before a key was dropped, or stored in clear by
 * an older version): the user begins the enrollment again. A pending secret is not a factor, so
 * "none" is the safe reading here, unlike for a stored factor.
 */
export function openPendingTotpSecret(box: SecretBox, userId: string, sealed: string): string | null {
  try {
    return box.open(sealed, pendingContext(userId));
  } catch (error) {
    if (error instanceof SecretBoxError) return null;
    throw error;
  }
}

const PLAINTEXT = `mfa_secret !~ '^v[0-9]+\\.'`;

/**
 * Seals the secrets stored in clear before encryption at rest existed. Runs at every start (after the
 * migrations) and finds nothing once done. Each row is replaced only if it still holds the value read,
 * so instances starting together, or a user turning MFA off meanwhile, are never overwritten.
 * Returns how many were sealed.
 */
export async function sealPlaintextTotpSecrets(db: Database, box: SecretBox): Promise<number> {
  const rows = await db.query<{ id: string; mfa_secret: string }>(
    `SELECT id, mfa_secret FROM tessera_users WHERE mfa_secret IS NOT NULL AND ${PLAINTEXT}`,
  );
  let sealed = 0;
  for (const row of rows) {
    const updated = await db.query(
      'UPDATE tessera_users SET mfa_secret = $3 WHERE id = $1 AND mfa_secret = $2 RETURNING id',
      [row.id, row.mfa_secret, sealTotpSecret(box, row.id, row.mfa_secret)],
    );
    sealed += updated.length;
  }
  return sealed;
}

/** How many stored secrets each key id seals (the current key first, then the others, then unknown ones). */
export async function totpSecretsByKey(
  db: Database,
  box: SecretBox,
): Promise<{ keyId: string; count: number; configured: boolean }[]> {
  const rows = await db.query<{ key_id: string; n: unknown }>(
    `SELECT split_part(mfa_secret, '.', 2) AS key_id, count(*) AS n FROM tessera_users
     WHERE mfa_secret IS NOT NULL GROUP BY 1`,
  );
  const counts = new Map(rows.map((r) => [r.key_id, toNumber(r.n)]));
  const listed = box.keyIds.map((keyId) => ({ keyId, count: counts.get(keyId) ?? 0, configured: true }));
  const unknown = [...counts]
    .filter(([keyId]) => !box.keyIds.includes(keyId))
    .map(([keyId, count]) => ({ keyId, count, configured: false }));
  return [...listed, ...unknown];
}

/** Secrets are stored with keys the server doesn't have: it refuses to start rather than fail each sign-in. */
export class TotpKeyMissingError extends Error {
  constructor(readonly missing: { keyId: string; count: number }[]) {
    const list = missing.map((m) => `${m.keyId} (${m.count} secret${m.count === 1 ? '' : 's'})`).join(', ');
    super(
      `TOTP secrets in the database are encrypted with key ${list}, which TOTP_ENCRYPTION_KEYS (or the ` +
        'key file) does not hold. Add the missing key (keep the current one first), restart, and run ' +
        '`pnpm cli mfa rekey` before dropping it. See apps/server/README.md, "TOTP secrets at rest".',
    );
    this.name = 'TotpKeyMissingError';
  }
}

/** @throws TotpKeyMissingError when some stored secret names a key id that is not configured. */
export async function assertTotpKeysPresent(db: Database, box: SecretBox): Promise<void> {
  const missing = (await totpSecretsByKey(db, box)).filter((k) => !k.configured);
  if (missing.length > 0) throw new TotpKeyMissingError(missing);
}

export interface RekeyResult {
  /** Secrets now sealed with the current key that were sealed with another one. */
  rekeyed: number;
  /** Already sealed with the current key. */
  current: number;
  /** Could not be opened (unknown key, altered): left as they are. */
  failed: { userId: string; reason: SecretBoxFailure; keyId: string | null }[];
}

/**
 * Re-encrypts every stored secret that is not sealed with the current (first) key. Idempotent and
 * safe beside running servers: a row is replaced only if it still holds the value read, so a secret
 * changed meanwhile (MFA turned off, or on again) is left to its new value.
 */
export async function rekeyTotpSecrets(db: Database, box: SecretBox, batchSize = 500): Promise<RekeyResult> {
  const result: RekeyResult = { rekeyed: 0, current: 0, failed: [] };
  const currentKey = box.keyIds[0]!;
  let after = '';
  for (;;) {
    // Keyset pagination: each batch is one short query, whatever the table's size.
    const rows = await db.query<{ id: string; mfa_secret: string }>(
      `SELECT id, mfa_secret FROM tessera_users WHERE mfa_secret IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`,
      [after, batchSize],
    );
    if (rows.length === 0) return result;
    after = rows.at(-1)!.id;
    for (const row of rows) {
      if (box.keyIdOf(row.mfa_secret) === currentKey) {
        result.current++;
        continue;
      }
      let secret: string;
      try {
        secret = openTotpSecret(box, row.id, row.mfa_secret);
      } catch (error) {
        if (!(error instanceof TotpSecretUnreadableError)) throw error;
        result.failed.push({ userId: row.id, reason: error.reason, keyId: error.keyId });
        continue;
      }
      const updated = await db.query(
        'UPDATE tessera_users SET mfa_secret = $3 WHERE id = $1 AND mfa_secret = $2 RETURNING id',
        [row.id, row.mfa_secret, sealTotpSecret(box, row.id, secret)],
      );
      if (updated.length === 1) result.rekeyed++;
    }
  }
}

/**
 * Turns MFA off for every user whose stored secret can't be opened with the configured keys (a key
 * lost for good): those users sign in with their password and enroll again. An operator's decision
 * (`pnpm cli mfa reset-unreadable`), never automatic. Returns the users reset.
 */
export async function resetUnreadableTotpSecrets(db: Database, box: SecretBox): Promise<string[]> {
  const reset: string[] = [];
  let after = '';
  for (;;) {
    const rows = await db.query<{ id: string; mfa_secret: string }>(
      `SELECT id, mfa_secret FROM tessera_users WHERE mfa_secret IS NOT NULL AND id > $1 ORDER BY id LIMIT 500`,
      [after],
    );
    if (rows.length === 0) return reset;
    after = rows.at(-1)!.id;
    for (const row of rows) {
      try {
        openTotpSecret(box, row.id, row.mfa_secret);
        continue;
      } catch (error) {
        if (!(error instanceof TotpSecretUnreadableError)) throw error;
      }
      const updated = await db.query(
        `UPDATE tessera_users SET mfa_secret = NULL, mfa_last_step = NULL
         WHERE id = $1 AND mfa_secret = $2 RETURNING id`,
        [row.id, row.mfa_secret],
      );
      if (updated.length === 1) reset.push(row.id);
    }
  }
}
