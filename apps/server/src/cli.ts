/**
 * Operator CLI (`pnpm cli ...` from the repository root). Uses the same environment as the server.
 * With the embedded database it takes the data-dir lock like the server does, so it refuses to run
 * (with a clear message) while a server uses that directory instead of corrupting it.
 */
import { pathToFileURL } from 'node:url';
import { SYSTEM } from './audit/actor.js';
import { type ComposeOptions, compose } from './compose.js';
import { type Config, EnvError, loadEnv } from './env.js';
import { DataDirLockedError } from './infra/data-dir-lock.js';
import { createLogger } from './logger.js';
import { describeUserAgent } from './sessions/user-agent.js';
import { checkPassword } from './users/password-policy.js';
import { OWASP_ARGON2, type PasswordHasher, passwordHasher } from './users/passwords.js';
import { EmailTakenError, ROLES, type Role, type UserKey } from './users/repository.js';
import { rekeyTotpSecrets, resetUnreadableTotpSecrets, totpSecretsByKey } from './users/totp-secrets.js';

export const USAGE = `Usage: pnpm cli <command> [options]

  users create --email E --password P [--role admin]   create a user (role: user by default)
  users set-role --email E --role user|admin           change a role; live sessions follow on their next request
  users list                                           list users (by email)
  users disable --email E                              disable an account: its sessions end at once, sign-in is refused
  users enable --email E                               enable a disabled account again
  sessions list --email E                              list a user's live sessions
  sessions revoke-all --email E                        end every session of a user
  mfa keys                                             the TOTP encryption keys and how many secrets each holds
  mfa rekey                                            re-encrypt every TOTP secret with the current (first) key
  mfa reset-unreadable                                 turn MFA off for users whose secret no configured key opens
  audit tail [--email E] [--limit N]                   the latest security events (default 20), newest last

Uses the server's environment (DATABASE_URL or DATA_DIR, REDIS_URL, ...; see apps/server/.env.example).`;

class UsageError extends Error {}

/**
 * Each command, and whether it reads or changes sessions. Only those open the session store: with
 * Redis, `users create` or `mfa rekey` then work (and answer at once) without a connection to it.
 */
const COMMANDS = new Map<string, { sessions: boolean }>([
  ['users create', { sessions: false }],
  ['users set-role', { sessions: true }],
  ['users list', { sessions: false }],
  ['users disable', { sessions: true }],
  ['users enable', { sessions: false }],
  ['sessions list', { sessions: true }],
  ['sessions revoke-all', { sessions: true }],
  ['mfa keys', { sessions: false }],
  ['mfa rekey', { sessions: false }],
  ['mfa reset-unreadable', { sessions: true }],
  ['audit tail', { sessions: false }],
]);

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
    flags[arg.slice(2)] = value;
    i++;
  }
  return flags;
}

const need = (flags: Record<string, string>, name: string): string => {
  const v = flags[name];
  if (!v) throw new UsageError(`--${name} is required`);
  return v;
};

const asRole = (value: string): Role => {
  if (!(ROLES as readonly string[]).includes(value))
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return value as Role;
};

interface NewUser {
  email: string;
  role: Role;
  passwordHash: Promise<string>;
}

/** The flags of `users create`, checked; the password's hash is on its way. @throws UsageError */
function readNewUser(flags: Record<string, string>, hasher: PasswordHasher): NewUser {
  const email = need(flags, 'email').trim();
  const password = need(flags, 'password');
  const role = flags.role ? asRole(flags.role) : 'user';
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254)
    throw new UsageError(`'${email}' is not an email address`);
  const check = checkPassword(password, { email });
  if (!check.ok) throw new UsageError(`password refused: ${check.problem}`);
  const passwordHash = hasher.hash(password);
  passwordHash.catch(() => {}); // awaited once the database is open; until then not an unhandled rejection
  return { email, role, passwordHash };
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A positive integer flag, at most `max`. @throws UsageError */
function positiveInt(flags: Record<string, string>, name: string, fallback: number, max: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}`);
  return n;
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Runs one CLI command; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runCli(
  argv: string[],
  config: Config,
  io: CliIo,
  composeOptions: ComposeOptions = {},
): Promise<number> {
  const [group, command, ...rest] = argv;
  if (!group || group === 'help' || group === '--help' || group === '-h') {
    io.out(USAGE);
    return group ? 0 : 2;
  }
  let flags: Record<string, string>;
  let needs: { sessions: boolean };
  try {
    flags = parseFlags(rest);
    if (!command) throw new UsageError('missing command');
    const known = COMMANDS.get(`${group} ${command}`);
    if (!known) throw new UsageError(`unknown command '${group} ${command}'`);
    needs = known;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }

  // `users create` is checked before anything opens (a refused password takes no lock), and its
  // password is hashed while the database opens: argon2 runs on libuv's thread pool, PGlite here.
  let newUser: NewUser | null = null;
  if (`${group} ${command}` === 'users create') {
    try {
      const hasher = passwordHasher(composeOptions.argon2 ?? OWASP_ARGON2, config.passwordHashConcurrency);
      newUser = readNewUser(flags, hasher);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      io.err(`error: ${error.message}`);
      return 1;
    }
  }

  let runtime: Awaited<ReturnType<typeof compose>>;
  try {
    runtime = await compose(config, {
      logger: createLogger({ logLevel: 'warn' }),
      ...composeOptions,
      role: 'cli',
      demoUsers: false,
      sessions: needs.sessions,
    });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }

  const { users, sessions } = runtime.deps;
  const findUser = async (email: string) => {
    const user = await users.findByEmail(email);
    if (!user) throw new UsageError(`no user with email ${email}`);
    return user;
  };

  try {
    switch (`${group} ${command}`) {
      case 'users create': {
        const { email, role, passwordHash } = newUser!;
        const user = await users.create({ email, passwordHash: await passwordHash, role });
        io.out(`created ${user.role} ${user.email} (id ${user.id})`);
        return 0;
      }
      case 'users set-role': {
        const user = await findUser(need(flags, 'email'));
        const role = asRole(need(flags, 'role'));
        await users.setRole(user.id, role);
        const updated = await sessions.updateUser(user.id, { role }, { rotate: true });
        if (user.role !== role) {
          runtime.deps.audit.record({
            type: 'role_changed',
            userId: user.id,
            actor: SYSTEM,
            ip: null,
            userAgent: null,
            sessionId: null,
            reason: null,
            detail: { from: user.role, to: role },
          });
        }
        io.out(`${user.email} is now ${role} (${updated} live session${updated === 1 ? '' : 's'} updated)`);
        return 0;
      }
      case 'users list': {
        // Page by page (the admin console's keyset order), so 100,000 users never sit in memory at once.
        let count = 0;
        let after: UserKey | null = null;
        for (;;) {
          const page = await users.list({ after, limit: 1_000 });
          for (const u of page)
            io.out(
              `${u.id}  ${u.role.padEnd(5)}  ${u.mfaEnabled ? 'mfa' : '   '}  ${u.disabledAt === null ? '        ' : 'disabled'}  ${u.email}`,
            );
          count += page.length;
          const last = page[page.length - 1];
          if (!last || page.length < 1_000) break;
          after = last.key;
        }
        io.out(`${count} user${count === 1 ? '' : 's'}`);
        return 0;
      }
      case 'users disable':
      case 'users enable': {
        const disabled = command === 'disable';
        const user = await findUser(need(flags, 'email'));
        // Loaded here only: the other commands don't need the tRPC layer.
        const { LastAdminError, setAccountDisabled } = await import('./trpc/routers/admin.js');
        try {
          const { sessionsEnded } = await setAccountDisabled(runtime.deps, {
            target: user,
            disabled,
            actor: SYSTEM,
          });
          io.out(
            disabled
              ? `${user.email} is disabled (${sessionsEnded} session${sessionsEnded === 1 ? '' : 's'} ended)`
              : `${user.email} is enabled`,
          );
        } catch (error) {
          if (error instanceof LastAdminError) throw new UsageError(error.message);
          throw error;
        }
        return 0;
      }
      case 'audit tail': {
        const limit = positiveInt(flags, 'limit', 20, 100);
        let userId: string | undefined;
        if (flags.email !== undefined) {
          const email = need(flags, 'email');
          userId = (await users.idByEmail(email)) ?? undefined;
          if (!userId) throw new UsageError(`no user with email ${email}`);
        }
        const page = await runtime.deps.audit.list({ ...(userId ? { userId } : {}), limit });
        const emails = await users.emailsByIds(page.events.flatMap((e) => (e.userId ? [e.userId] : [])));
        for (const e of [...page.events].reverse()) {
          const d = describeUserAgent(e.userAgent);
          const device = [d.browser, d.os, d.device].filter(Boolean).join(', ') || '-';
          const who = e.userId === null ? '-' : (emails.get(e.userId) ?? e.userId);
          io.out(
            `${iso(e.at)}  ${e.type}  ${e.reason ?? '-'}  ${who}  ${e.actor.kind}  ${e.ip ?? '-'}  ${device}`,
          );
        }
        io.out(`${page.events.length} event${page.events.length === 1 ? '' : 's'}`);
        return 0;
      }
      case 'sessions list': {
        const user = await findUser(need(flags, 'email'));
        const list = await sessions.list(user.id);
        for (const s of list) {
          const d = describeUserAgent(s.userAgent);
          io.out(
            `${s.id}  created ${iso(s.createdAt)}  last ${iso(s.lastActivityAt)}  ip ${s.ip ?? '-'}  ` +
              `${[d.browser, d.os, d.device].filter(Boolean).join(', ') || '-'}`,
          );
        }
        io.out(`${list.length} live session${list.length === 1 ? '' : 's'} for ${user.email}`);
        return 0;
      }
      case 'sessions revoke-all': {
        const user = await findUser(need(flags, 'email'));
        const n = await sessions.revokeAll(user.id);
        io.out(`ended ${n} session${n === 1 ? '' : 's'} of ${user.email}`);
        return 0;
      }
      case 'mfa keys': {
        const { totpKeys } = runtime;
        const source =
          totpKeys.source.kind === 'env' ? 'TOTP_ENCRYPTION_KEYS' : `the key file ${totpKeys.source.path}`;
        io.out(`TOTP secrets are encrypted with keys from ${source}:`);
        const keys = await totpSecretsByKey(runtime.db, totpKeys.box);
        for (const [i, k] of keys.entries()) {
          const what = !k.configured ? 'NOT CONFIGURED' : i === 0 ? 'current (encrypts)' : 'decrypts only';
          io.out(`  ${k.keyId}  ${what.padEnd(18)}  ${k.count} secret${k.count === 1 ? '' : 's'}`);
        }
        return keys.some((k) => !k.configured) ? 1 : 0;
      }
      case 'mfa rekey': {
        const { rekeyed, current, failed } = await rekeyTotpSecrets(runtime.db, runtime.totpKeys.box);
        const keyId = runtime.totpKeys.box.keyIds[0];
        io.out(
          `re-encrypted ${rekeyed} TOTP secret${rekeyed === 1 ? '' : 's'} with key ${keyId} (${current} already were)`,
        );
        const why = {
          unknown_key: (keyId: string | null) => `sealed with key ${keyId}, which is not configured`,
          not_authentic: () => 'does not authenticate (altered, or moved from another user)',
          malformed: () => 'not a sealed value',
        };
        for (const f of failed)
          io.err(`error: the TOTP secret of user ${f.userId} ${why[f.reason](f.keyId)}`);
        if (failed.length > 0) {
          io.err(
            `${failed.length} secret${failed.length === 1 ? ' was' : 's were'} left as they are: add the missing ` +
              'key, or (a key lost for good) `pnpm cli mfa reset-unreadable`',
          );
          return 1;
        }
        return 0;
      }
      case 'mfa reset-unreadable': {
        const reset = await resetUnreadableTotpSecrets(runtime.db, runtime.totpKeys.box);
        for (const userId of reset) {
          await sessions.updateUser(userId, { mfaEnabled: false }, { rotate: false });
          io.out(`MFA is off for user ${userId}: they sign in with their password and enroll again`);
        }
        io.out(`${reset.length} user${reset.length === 1 ? '' : 's'} reset`);
        return 0;
      }
      default:
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof EmailTakenError) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await runtime.close();
  }
}

// Run when executed directly (not when imported by tests).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const io: CliIo = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  };
  let config: Config;
  try {
    config = loadEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      io.err(error.message);
      process.exit(1);
    }
    throw error;
  }
  runCli(process.argv.slice(2), config, io)
    .then((code) => process.exit(code))
    .catch((error: unknown) => {
      io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    });
}
