/**
 * Password rules per the OWASP Authentication Cheat Sheet / ASVS 5.0 V6.2 (and NIST SP 800-63B):
 * at least 12 characters, at most 128 (so long passphrases work and hashing cost stays bounded), any
 * characters including spaces and Unicode, no composition rules (no "one digit, one symbol"), and a
 * check against very common passwords and the account's own identifiers.
 */
import { COMMON_PASSWORDS } from './common-passwords.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-limits.js';

export { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH };

export type PasswordCheck = { ok: true } | { ok: false; problem: string };

/** Length in Unicode code points, as a user would count characters. */
const lengthOf = (password: string) => [...password].length;

export function checkPassword(password: string, context: { email?: string } = {}): PasswordCheck {
  const length = lengthOf(password);
  if (length < PASSWORD_MIN_LENGTH)
    return {
      ok: false,
      problem: `Use at least ${PASSWORD_MIN_LENGTH} characters (a passphrase works well).`,
    };
  if (length > PASSWORD_MAX_LENGTH)
    return { ok: false, problem: `Use at most ${PASSWORD_MAX_LENGTH} characters.` };
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower) || new Set(lower).size === 1)
    return { ok: false, problem: 'This password is too common; choose another.' };
  const email = context.email?.toLowerCase();
  if (email) {
    const squash = (v: string) => v.replace(/[^\p{L}\p{N}]/gu, '');
    const local = squash(email.split('@')[0] ?? '');
    if (
      lower.includes(email) ||
      squash(lower) === squash(email) ||
      (local.length > 0 && squash(lower) === local)
    )
      return { ok: false, problem: 'Do not use your email address as your password.' };
  }
  return { ok: true };
}
