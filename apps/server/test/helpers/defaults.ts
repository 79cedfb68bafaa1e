/** Cheap argon2id for tests (production uses OWASP's m=19 MiB, t=2). */
export const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

export const PASSWORD = 'correct horse battery staple 7';
