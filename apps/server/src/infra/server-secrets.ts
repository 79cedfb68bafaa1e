import { randomBytes } from 'node:crypto';
import type { Database } from './database.js';

/**
 * A secret the server makes itself, once per database, and keeps in `tessera_server_secrets`: every
 * instance sharing the database reads the same value, and a restart keeps it. Instances starting
 * together race safely: each offers a fresh random value, the first insert wins (ON CONFLICT DO
 * NOTHING), and all of them read back the one that was stored.
 *
 * Only for secrets whose exposure in a dump of this database is acceptable (the session shard tag's:
 * such a dump already holds the user ids the tag would link). Secrets that protect the database's own
 * contents (TOTP) must live elsewhere.
 */
export async function storedSecret(
  db: Database,
  name: string,
  options: { bytes: number; now: number },
): Promise<Buffer> {
  await db.query(
    `INSERT INTO tessera_server_secrets (name, value, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO NOTHING`,
    [name, randomBytes(options.bytes), options.now],
  );
  const [row] = await db.query<{ value: Uint8Array }>(
    'SELECT value FROM tessera_server_secrets WHERE name = $1',
    [name],
  );
  if (!row || !(row.value instanceof Uint8Array) || row.value.byteLength < options.bytes) {
    throw new Error(`tessera_server_secrets: '${name}' is missing or shorter than ${options.bytes} bytes`);
  }
  return Buffer.from(row.value);
}
