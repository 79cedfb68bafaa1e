/**
 * Password hashing with argon2id (@node-rs/argon2: native, runs on the libuv threadpool, so a hash
 * never blocks the event loop). Defaults are the OWASP Password Storage Cheat Sheet's first argon2id
 * option: m = 19 MiB, t = 2, p = 1. At most `concurrency` hashes run at once (concurrency-gate.ts:
 * a login storm must leave a core to the signed-in users' requests).
 */
import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, parseOptions, verify } from '@node-rs/argon2';
import { concurrencyGate } from './concurrency-gate.js';

export interface Argon2Params {
  /** KiB. Default 19456 (19 MiB). */
  memoryCost: number;
  /** Passes. Default 2. */
  timeCost: number;
  /** Lanes. Default 1. */
  parallelism: number;
}

export const OWASP_ARGON2: Argon2Params = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

/** `Algorithm.Argon2id` (an ambient const enum, which isolatedModules can't read). */
const ARGON2ID = 2 as Algorithm;

export type PasswordHasher = ReturnType<typeof passwordHasher>;

/** `concurrency`: hashes at once (PASSWORD_HASH_CONCURRENCY, env.ts; the others wait their turn). */
export function passwordHasher(params: Argon2Params, concurrency: number) {
  const options = { ...params, algorithm: ARGON2ID };
  const gate = concurrencyGate(concurrency);
  // Made up front, so that even the first unknown-email login costs one verification, not a hash too.
  const dummy = hash(randomBytes(16).toString('base64url'), options);
  dummy.catch(() => {});

  return {
    params,
    hash: (password: string) => gate.run(() => hash(password, options)),

    /** False for a wrong password and for a hash that isn't a valid argon2 string. */
    async verify(passwordHash: string, password: string): Promise<boolean> {
      try {
        return await gate.run(() => verify(passwordHash, password));
      } catch {
        return false;
      }
    },

    /**
     * Burns the same time as a real verification, for logins of unknown users, so response times
     * don't tell which emails have accounts. Always false.
     */
    async verifyDummy(password: string): Promise<false> {
      try {
        const dummyHash = await dummy;
        await gate.run(() => verify(dummyHash, password));
      } catch {
        // the outcome is irrelevant
      }
      return false;
    },

    /** True when the hash was made with other parameters (or another algorithm): rehash on login. */
    needsRehash(passwordHash: string): boolean {
      try {
        const p = parseOptions(passwordHash);
        return (
          p.algorithm !== ARGON2ID ||
          p.memoryCost !== params.memoryCost ||
          p.timeCost !== params.timeCost ||
          p.parallelism !== params.parallelism
        );
      } catch {
        return true;
      }
    },
  };
}
