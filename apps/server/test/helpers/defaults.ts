/** Cheap argon2id for tests (production uses OWASP's m=19 MiB, t=2). */
export const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

export const PASSWORD = 'correct horse battery staple 7';

/**
 * TOTP_ENCRYPTION_KEYS of the child servers (helpers/child-server.ts), so that a test reading their
 * users table directly can open the secrets. A fixed test value: never use it anywhere else.
 */
export const TEST_TOTP_KEY = Buffer.alloc(32, 't').toString('base64');
