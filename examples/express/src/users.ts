/**
 * An in-memory user list, enough for an example: a real app keeps users in its database. Passwords are
 * hashed with scrypt from node:crypto at the OWASP Password Storage Cheat Sheet's parameters
 * (N=2^17, r=8, p=1), compared in constant time, and an unknown email costs the same hash as a known
 * one, so response times don't tell which emails have accounts.
 */
import { randomBytes, randomUUID, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** OWASP's scrypt parameters. Tests pass a cheaper cost so that sign-ins don't dominate their time. */
export const OWASP_SCRYPT: ScryptOptions = { N: 2 ** 17, r: 8, p: 1 };
const KEY_LENGTH = 32;

export interface User {
  id: string;
  email: string;
}

export interface Users {
  /** The user when the email and password match, else null (the same cost either way). */
  verify(email: unknown, password: unknown): Promise<User | null>;
}

export async function createUsers(
  accounts: { email: string; password: string }[],
  cost: ScryptOptions = OWASP_SCRYPT,
): Promise<Users> {
  const params = { ...cost, maxmem: 256 * 1024 * 1024 }; // N=2^17 needs 128 MiB, over Node's default cap
  const derive = (password: string, salt: Buffer) =>
    new Promise<Buffer>((resolve, reject) =>
      scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, params, (error, key) =>
        error ? reject(error) : resolve(key),
      ),
    );
  const hashPassword = async (password: string) => {
    const salt = randomBytes(16);
    return { salt, hash: await derive(password, salt) };
  };
  const byEmail = new Map<string, User & { salt: Buffer; hash: Buffer }>();
  for (const { email, password } of accounts) {
    byEmail.set(email.toLowerCase(), { id: randomUUID(), email, ...(await hashPassword(password)) });
  }
  const dummy = await hashPassword(randomUUID());
  return {
    async verify(email, password) {
      const user = byEmail.get(String(email).toLowerCase());
      const { salt, hash } = user ?? dummy;
      const ok = timingSafeEqual(await derive(String(password), salt), hash);
      return ok && user ? { id: user.id, email: user.email } : null;
    },
  };
}
