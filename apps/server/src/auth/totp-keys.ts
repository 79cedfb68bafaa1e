/**
 * Where the keys that encrypt TOTP secrets at rest come from (auth/secret-box.ts). Never from the
 * database they protect: a dump of it alone must not reveal a secret.
 *
 *   TOTP_ENCRYPTION_KEYS set   those keys (the first encrypts, all decrypt); nothing is written
 *   unset                      one key generated on the first start into <DATA_DIR>/secrets/totp.key,
 *                              beside the embedded database's folder (<DATA_DIR>/pglite), not in it
 *
 * The file keeps `pnpm start` free of setup. With DATABASE_URL it works too (and compose.ts warns):
 * every instance sharing the database must then have the same key, so a deployment of more than
 * one instance, or one whose DATA_DIR is not kept, sets TOTP_ENCRYPTION_KEYS.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { type Config, parseKeyText } from '../env.js';
import { type SecretBox, secretBox } from './secret-box.js';

export interface TotpKeys {
  box: SecretBox;
  /** Where the keys came from, for the start log. */
  source:
    | { kind: 'env'; count: number }
    | {
        kind: 'file';
        path: string;
        /** Generated on this start. */
        created: boolean;
        /** Readable or writable by group or others (the key should be for this user only). */
        exposed: boolean;
      };
}

export const keyFilePath = (dataDir: string) => join(dataDir, 'secrets', 'totp.key');

export function totpKeys(config: Pick<Config, 'totpEncryptionKeys' | 'dataDir'>): TotpKeys {
  if (config.totpEncryptionKeys) {
    return {
      box: secretBox(config.totpEncryptionKeys),
      source: { kind: 'env', count: config.totpEncryptionKeys.length },
    };
  }
  const path = keyFilePath(config.dataDir);
  const { key, created } = readOrCreateKey(path);
  const exposed = process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0;
  return { box: secretBox([key]), source: { kind: 'file', path, created, exposed } };
}

/**
 * Reads the key file, or creates it with a new random key. Two processes starting at once on one
 * DATA_DIR (possible with DATABASE_URL) must end up with the same key: the key is written to a
 * private temporary file and then hard-linked to its name, which fails if the name exists, so the
 * file appears complete or not at all and the loser reads the winner's key.
 */
function readOrCreateKey(path: string): { key: Buffer; created: boolean } {
  const existing = readKey(path);
  if (existing) return { key: existing, created: false };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { key: readKey(path)!, created: false };
  } finally {
    rmSync(temp, { force: true });
  }
  syncDirectory(dirname(path));
  return { key, created: true };
}

function readKey(path: string): Buffer | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const key = parseKeyText(text);
  if (!key) {
    throw new Error(
      `${path} does not hold a TOTP encryption key (32 bytes, base64 or hex). Restore it from a backup, ` +
        'or set TOTP_ENCRYPTION_KEYS; never replace it with a new key while secrets are encrypted with it.',
    );
  }
  return key;
}

/** Secrets may be encrypted with the key right after this returns: its name must survive a power cut. */
function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform can fsync a directory (Windows); the file itself was synced.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
