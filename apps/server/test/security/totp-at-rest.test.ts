/**
 * TOTP secrets at rest: a dump of the users table (PostgreSQL) or a copy of the embedded database's
 * folder (PGlite) holds no secret; a sealed secret opens only with its key and only in its own row;
 * a missing key or an altered value is a loud server error, never "MFA off"; keys rotate (prepend,
 * restart, `mfa rekey`, drop the old one) with TOTP sign-ins working at every step; rows stored in
 * clear by an older version are sealed at start; with no configuration the embedded mode generates
 * its key file once, outside the database folder, and reuses it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import { Secret } from 'otpauth';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyId, type SecretBoxError, secretBox } from '../../src/auth/secret-box.js';
import { totpCode } from '../../src/auth/totp.js';
import { keyFilePath } from '../../src/auth/totp-keys.js';
import { type CliIo, runCli } from '../../src/cli.js';
import { compose } from '../../src/compose.js';
import { EnvError, parseEnv } from '../../src/env.js';
import { createLogger } from '../../src/logger.js';
import { TotpKeyMissingError, TotpSecretUnreadableError } from '../../src/users/totp-secrets.js';
import { freshDataDir, PASSWORD, startApp, TEST_ARGON2, type TestApp, uniqueEmail } from '../helpers/app.js';
import type { HttpClient } from '../helpers/http.js';

const newKey = () => randomBytes(32);
const b64 = (key: Buffer) => key.toString('base64');
const STEP = 30_000;

/** The secret in every form a dump could show it: base32, and its bytes as hex and base64. */
function forms(secret: string): string[] {
  const bytes = Buffer.from(Secret.fromBase32(secret).bytes);
  return [
    secret,
    secret.toLowerCase(),
    bytes.toString('hex'),
    bytes.toString('base64'),
    bytes.toString('base64url'),
  ];
}

/** Signs a new user in and turns MFA on (with the previous step's code, so the current one is still free). */
async function enroll(app: TestApp, email = uniqueEmail('at-rest')) {
  const c = await app.signedIn(email);
  const { secret } = (await c.mutation('mfa.beginEnrollment')).data as { secret: string };
  const r = await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - STEP) });
  expect(r.status, JSON.stringify(r.error)).toBe(200);
  const id = (await c.query('auth.me')).data.user.id as string;
  return { email, secret, id };
}

/** Password then TOTP code: the full MFA sign-in. Returns the second step's response. */
async function signInWithTotp(app: TestApp, email: string, secret: string, at = Date.now()) {
  const c: HttpClient = app.client();
  const login = await c.mutation('auth.login', { email, password: PASSWORD });
  expect(login.data?.status, JSON.stringify(login.error)).toBe('mfa_required');
  return c.mutation('auth.verifyMfa', { code: totpCode(secret, at) });
}

function logSink() {
  const lines: string[] = [];
  const logger = createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

async function cli(argv: string[], config: ReturnType<typeof parseEnv>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await runCli(argv, config, io, { argon2: TEST_ARGON2 });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the secret box', () => {
  const a = newKey();
  const b = newKey();

  it('opens what it sealed, in the same context only; every seal differs', () => {
    const box = secretBox([a]);
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'user-1');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed.split('.')[1]).toBe(keyId(a));
    expect(box.open(sealed, 'user-1')).toBe('JBSWY3DPEHPK3PXP');
    expect(box.seal('JBSWY3DPEHPK3PXP', 'user-1')).not.toBe(sealed); // a fresh nonce each time
    expect(() => box.open(sealed, 'user-2')).toThrow(
      expect.objectContaining({ name: 'SecretBoxError', reason: 'not_authentic' }),
    );
  });

  it('a wrong key, an altered value or a forged key id fails loudly and never shows the value', () => {
    const sealed = secretBox([a]).seal('JBSWY3DPEHPK3PXP', 'user-1');
    const failures: SecretBoxError[] = [];
    const attempt = (box: ReturnType<typeof secretBox>, value: string) => {
      try {
        box.open(value, 'user-1');
      } catch (error) {
        failures.push(error as SecretBoxError);
        return;
      }
      throw new Error(`opened ${value}`);
    };
    attempt(secretBox([b]), sealed); // another key
    const [v, id, nonce, body] = sealed.split('.') as [string, string, string, string];
    const flipped = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
    attempt(secretBox([a]), [v, id, nonce, flipped].join('.'));
    attempt(secretBox([b]), [v, keyId(b), nonce, body].join('.')); // relabelled for the other key
    attempt(secretBox([a]), 'JBSWY3DPEHPK3PXP'); // not sealed at all
    expect(failures.map((e) => [e.name, e.reason])).toEqual([
      ['SecretBoxError', 'unknown_key'],
      ['SecretBoxError', 'not_authentic'],
      ['SecretBoxError', 'not_authentic'],
      ['SecretBoxError', 'malformed'],
    ]);
    for (const e of failures) expect(e.message).not.toMatch(/JBSWY3DPEHPK3PXP|[A-Za-z0-9_-]{40}/);
  });

  it('TOTP_ENCRYPTION_KEYS: base64, base64url or hex; bad or repeated keys are named by position only', () => {
    const hex = newKey();
    const parsed = parseEnv({
      TOTP_ENCRYPTION_KEYS: `${b64(a)}, ${b.toString('base64url')},${hex.toString('hex').toUpperCase()}`,
    });
    expect(parsed.totpEncryptionKeys?.map((k) => k.length)).toEqual([32, 32, 32]);
    expect(parsed.totpEncryptionKeys?.[1]?.equals(b)).toBe(true);
    expect(parsed.totpEncryptionKeys?.[2]?.equals(hex)).toBe(true);
    expect(parseEnv({}).totpEncryptionKeys).toBeNull();
    const short = b64(randomBytes(16));
    let error: unknown;
    try {
      parseEnv({ TOTP_ENCRYPTION_KEYS: `${b64(a)},${short},${b64(a)}` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const { message } = error as EnvError;
    expect(message).toContain('TOTP_ENCRYPTION_KEYS: key 2 of 3 is not 32 bytes in base64 or hex');
    expect(message).toContain('TOTP_ENCRYPTION_KEYS: key 3 of 3 is listed twice');
    expect(message).not.toContain(short);
    expect(message).not.toContain(b64(a));
  });
});

describe('PostgreSQL: keys from TOTP_ENCRYPTION_KEYS', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  const keyA = newKey();
  const keyB = newKey();
  const envWith = (...keys: Buffer[]) => ({ TOTP_ENCRYPTION_KEYS: keys.map(b64).join(',') });
  const configWith = (...keys: Buffer[]) =>
    parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: db.url, ...envWith(...keys) });
  const stored = async (id: string) =>
    (await sql.query<{ mfa_secret: string }>('SELECT mfa_secret FROM tessera_users WHERE id = $1', [id]))
      .rows[0]!.mfa_secret;
  /** Forget the steps used so far, so one test can sign in with TOTP more than three times. */
  const forgetUsedSteps = () => sql.query('UPDATE tessera_users SET mfa_last_step = NULL');

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.pool({ max: 2 });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('after enrolling, the users row holds the secret in no form; TOTP sign-in works', async () => {
    const app = await startApp({ databaseUrl: db.url, env: envWith(keyA) });
    try {
      const { email, secret, id } = await enroll(app);
      const row = (
        await sql.query('SELECT row_to_json(t)::text AS row FROM tessera_users t WHERE id = $1', [id])
      ).rows[0].row as string;
      for (const form of forms(secret)) expect(row).not.toContain(form);
      expect(await stored(id)).toMatch(new RegExp(`^v1\\.${keyId(keyA)}\\.`));
      expect((await signInWithTotp(app, email, secret)).status).toBe(200);
      // The database itself refuses a secret in clear, whichever code would write it.
      await expect(
        sql.query('UPDATE tessera_users SET mfa_secret = $2 WHERE id = $1', [id, secret]),
      ).rejects.toThrow(/tessera_users_mfa_secret_sealed/);
    } finally {
      await app.stop();
    }
  });

  it('a sealed secret copied to another user, or a missing key: a logged 500, never a sign-in without the code', async () => {
    const { logger, lines } = logSink();
    const app = await startApp({ databaseUrl: db.url, env: envWith(keyA), compose: { logger } });
    try {
      const victim = await enroll(app);
      const attacker = uniqueEmail('copier');
      const attackerId = (await app.createUser(attacker)).id;
      // Someone with write access to the table gives their own account the victim's factor.
      await sql.query('UPDATE tessera_users SET mfa_secret = $2, mfa_last_step = NULL WHERE id = $1', [
        attackerId,
        await stored(victim.id),
      ]);
      const c = app.client();
      const r = await c.mutation('auth.login', { email: attacker, password: PASSWORD });
      expect(r.status).toBe(500);
      expect(r.error?.message).toBe('Internal server error');
      expect(c.jar.size).toBe(0);
      const logged = lines.find((l) => l.includes('TotpSecretUnreadableError'));
      expect(logged).toContain(attackerId);
      expect(logged).toContain('does not authenticate');
      for (const form of forms(victim.secret)) expect(lines.join('\n')).not.toContain(form);

      // A value sealed with a key this server doesn't have (a rotation done wrong): same.
      const foreign = secretBox([newKey()]).seal(victim.secret, `tessera_users.mfa_secret:${victim.id}`);
      await sql.query('UPDATE tessera_users SET mfa_secret = $2 WHERE id = $1', [victim.id, foreign]);
      const v = await app.client().mutation('auth.login', { email: victim.email, password: PASSWORD });
      expect(v.status).toBe(500);
      expect(lines.find((l) => l.includes('is not configured'))).toContain(victim.id);
      await expect(app.runtime.deps.users.findById(victim.id)).rejects.toBeInstanceOf(
        TotpSecretUnreadableError,
      );
      // The admin listing needs no secret, so it still works.
      expect((await app.runtime.deps.users.list({ limit: 500 })).length).toBeGreaterThan(0);
      await sql.query('UPDATE tessera_users SET mfa_secret = NULL WHERE id IN ($1, $2)', [
        victim.id,
        attackerId,
      ]);
    } finally {
      await app.stop();
    }
  });

  it('rotation: A; then B,A (old secrets still open, new ones sealed with B); rekey; then B alone', async () => {
    let app = await startApp({ databaseUrl: db.url, env: envWith(keyA) });
    const first = await enroll(app);
    await app.stop();

    // The wrong key alone: the server refuses to start, naming the key it lacks.
    const refused = compose(configWith(keyB), { argon2: TEST_ARGON2, demoUsers: false });
    await expect(refused).rejects.toBeInstanceOf(TotpKeyMissingError);
    await expect(refused).rejects.toThrow(new RegExp(`key ${keyId(keyA)} \\(\\d+ secrets?\\)`));

    app = await startApp({ databaseUrl: db.url, env: envWith(keyB, keyA) });
    let second: Awaited<ReturnType<typeof enroll>>;
    try {
      expect((await signInWithTotp(app, first.email, first.secret)).status).toBe(200);
      second = await enroll(app);
      expect(await stored(second.id)).toMatch(new RegExp(`^v1\\.${keyId(keyB)}\\.`));
      expect(await stored(first.id)).toMatch(new RegExp(`^v1\\.${keyId(keyA)}\\.`));
    } finally {
      await app.stop();
    }

    const keys = await cli(['mfa', 'keys'], configWith(keyB, keyA));
    expect(keys.code).toBe(0);
    expect(keys.out).toMatch(new RegExp(`${keyId(keyB)}\\s+current \\(encrypts\\)\\s+\\d+ secrets?`));
    expect(keys.out).toMatch(new RegExp(`${keyId(keyA)}\\s+decrypts only\\s+[1-9]\\d* secrets?`));
    const rekey = await cli(['mfa', 'rekey'], configWith(keyB, keyA));
    expect(rekey).toMatchObject({ code: 0, err: '' });
    expect(rekey.out).toMatch(new RegExp(`^re-encrypted [1-9]\\d* TOTP secrets? with key ${keyId(keyB)}`));
    const again = await cli(['mfa', 'rekey'], configWith(keyB, keyA));
    expect(again.out).toMatch(/^re-encrypted 0 TOTP secrets with key/); // idempotent
    expect((await cli(['mfa', 'keys'], configWith(keyB, keyA))).out).toMatch(
      new RegExp(`${keyId(keyA)}\\s+decrypts only\\s+0 secrets`),
    );

    await forgetUsedSteps();
    app = await startApp({ databaseUrl: db.url, env: envWith(keyB) });
    try {
      expect((await signInWithTotp(app, first.email, first.secret)).status).toBe(200);
      expect((await signInWithTotp(app, second.email, second.secret)).status).toBe(200);
      expect(await stored(first.id)).toMatch(new RegExp(`^v1\\.${keyId(keyB)}\\.`));
    } finally {
      await app.stop();
    }
  });

  it('rows stored in clear by an older version are sealed at start, and still sign in', async () => {
    let app = await startApp({ databaseUrl: db.url, env: envWith(keyB) });
    const email = uniqueEmail('legacy');
    const { id } = await app.createUser(email);
    await app.stop();
    // Back to schema version 2, as an older server left it: a secret in clear.
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await sql.query('ALTER TABLE tessera_users DROP CONSTRAINT tessera_users_mfa_secret_sealed');
    await sql.query('DELETE FROM tessera_schema_migrations WHERE version = 3');
    await sql.query('UPDATE tessera_users SET mfa_secret = $2, mfa_last_step = NULL WHERE id = $1', [
      id,
      secret,
    ]);

    const { logger, lines } = logSink();
    app = await startApp({ databaseUrl: db.url, env: envWith(keyB), compose: { logger } });
    try {
      expect(await stored(id)).toMatch(new RegExp(`^v1\\.${keyId(keyB)}\\.`));
      expect(lines.some((l) => /"sealed":1,.*stored in clear/.test(l))).toBe(true);
      expect((await signInWithTotp(app, email, secret)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});

/** Every byte of every file under `dir`, as latin1 text (the secret is ASCII; its raw bytes too). */
function readTree(dir: string): string {
  const parts: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(readFileSync(join(entry.parentPath, entry.name)).toString('latin1'));
  }
  return parts.join('\n');
}

describe('embedded (PGlite), no configuration: the generated key file', () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDataDir();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is made once, outside the database folder, private, and reused across restarts', async () => {
    const path = keyFilePath(dir);
    expect(path.startsWith(join(dir, 'pglite'))).toBe(false);
    const { logger, lines } = logSink();
    let app = await startApp({ dataDir: dir, compose: { logger } });
    const { email, secret } = await enroll(app);
    await app.stop();
    const key = readFileSync(path, 'utf8');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    expect(lines.some((l) => l.includes(`the key in ${path} (generated now)`))).toBe(true);

    // A copy of the database folder (the PGlite files, WAL included) holds the secret in no form.
    const files = readTree(join(dir, 'pglite'));
    for (const form of forms(secret)) expect(files.includes(form), form).toBe(false);
    expect(files.includes(key.trim())).toBe(false);

    const again = logSink();
    app = await startApp({ dataDir: dir, compose: { logger: again.logger } });
    try {
      expect(readFileSync(path, 'utf8')).toBe(key);
      expect(again.lines.some((l) => l.includes(`the key in ${path}:`))).toBe(true);
      expect((await signInWithTotp(app, email, secret)).status).toBe(200);
    } finally {
      await app.stop();
    }

    // Without the key, the database alone opens nothing: the server refuses to start. The CLI still
    // runs, says which key is missing, and (a key lost for good) can turn those factors off.
    rmSync(path);
    const config = parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dir });
    await expect(compose(config, { argon2: TEST_ARGON2, demoUsers: false })).rejects.toBeInstanceOf(
      TotpKeyMissingError,
    );
    const lostId = keyId(Buffer.from(key.trim(), 'base64'));
    const keys = await cli(['mfa', 'keys'], config);
    expect(keys.code).toBe(1);
    expect(keys.out).toMatch(new RegExp(`${lostId}\\s+NOT CONFIGURED\\s+1 secret`));
    const rekey = await cli(['mfa', 'rekey'], config);
    expect(rekey.code).toBe(1);
    expect(rekey.err).toContain(`sealed with key ${lostId}, which is not configured`);
    const reset = await cli(['mfa', 'reset-unreadable'], config);
    expect(reset).toMatchObject({ code: 0, out: expect.stringMatching(/1 user reset$/) });
    app = await startApp({ dataDir: dir });
    try {
      const r = await app.client().mutation('auth.login', { email, password: PASSWORD });
      expect(r.data).toMatchObject({ status: 'signed_in', user: { mfaEnabled: false } });
    } finally {
      await app.stop();
    }
  });

  it('processes starting at once on one DATA_DIR all end up with the same key', async () => {
    const shared = freshDataDir();
    try {
      const code =
        "const { totpKeys } = await import('./src/auth/totp-keys.ts');" +
        'const k = totpKeys({ totpEncryptionKeys: null, dataDir: process.argv[1] });' +
        'console.log(JSON.stringify([k.box.keyIds[0], k.source.created]));';
      const results = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<[string, boolean]>((resolve, reject) => {
              const child = spawn(
                process.execPath,
                ['--import', 'tsx', '--input-type=module', '-e', code, shared],
                {
                  cwd: fileURLToPath(new URL('../..', import.meta.url)),
                  stdio: ['ignore', 'pipe', 'inherit'],
                },
              );
              let out = '';
              child.stdout.on('data', (d) => {
                out += d;
              });
              child.on('exit', (status) =>
                status === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${status}`)),
              );
            }),
        ),
      );
      expect(new Set(results.map(([id]) => id)).size).toBe(1);
      expect(results.filter(([, created]) => created)).toHaveLength(1);
      expect(readdirSync(join(shared, 'secrets'))).toEqual(['totp.key']); // no temporary file left
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
