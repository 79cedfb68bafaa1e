/**
 * First start of the embedded mode with no users at all: a demo admin and a demo user with random
 * passwords, shown once on the console. Never with DATABASE_URL (compose.ts checks), never twice
 * (only an empty users table qualifies).
 */
import { randomBytes } from 'node:crypto';
import type { AppDeps } from './trpc/deps.js';
import type { Role } from './users/repository.js';

export interface DemoAccount {
  email: string;
  password: string;
  role: Role;
}

export async function seedDemoUsers(
  deps: Pick<AppDeps, 'users' | 'passwords' | 'log'>,
): Promise<DemoAccount[] | null> {
  if ((await deps.users.count()) > 0) return null;
  const accounts: DemoAccount[] = [
    { email: 'admin@example.com', password: randomBytes(12).toString('base64url'), role: 'admin' },
    { email: 'user@example.com', password: randomBytes(12).toString('base64url'), role: 'user' },
  ];
  for (const a of accounts) {
    await deps.users.create({
      email: a.email,
      passwordHash: await deps.passwords.hash(a.password),
      role: a.role,
    });
  }
  deps.log.info({ emails: accounts.map((a) => a.email) }, 'created demo accounts');
  return accounts;
}
