import { z } from 'zod';

/** Emails are compared case-insensitively; login doesn't check the format (a generic error covers it). */
export const email = z.string().trim().min(1, 'Enter your email').max(254);
/** Accept anything non-empty up to a bound (hashing cost); the policy applies when a password is set. */
export const password = z.string().min(1, 'Enter your password').max(1024);
export const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'Enter the 6-digit code');
/** Public session ids are 26 base64url characters; anything longer is refused before any lookup. */
export const sessionId = z.string().min(1).max(64);
