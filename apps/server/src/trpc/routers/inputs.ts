import { z } from 'zod';

/**
 * No control characters in anything that reaches a database as text: PostgreSQL refuses a NUL byte
 * outright (an error, not a miss), and no id, email or session id of ours contains one.
 */
const printable = (s: string) => !/\p{Cc}/u.test(s);

/** Emails are compared case-insensitively; login doesn't check the format (a generic error covers it). */
export const email = z
  .string()
  .trim()
  .min(1, 'Enter your email')
  .max(254)
  .refine(printable, 'Email contains a control character');
/** Accept anything non-empty up to a bound (hashing cost); the policy applies when a password is set. */
export const password = z.string().min(1, 'Enter your password').max(1024);
export const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'Enter the 6-digit code');
/** Public session ids are 26 base64url characters; anything longer is refused before any lookup. */
export const sessionId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'Not a session id');
/** User ids are UUIDs here; the bound and character check keep any other id scheme working. */
export const userId = z.string().min(1).max(64).refine(printable, 'User id contains a control character');
