/**
 * The steps between "password accepted" and "signed in" (MFA code, session limit), kept in memory
 * only: a reload starts the sign-in over, and no ticket ever reaches browser storage or history.
 */
import type { SessionLimit } from './errors';

/** The server's MFA challenge: 5 attempts, 10 minutes (apps/server/src/trpc/sign-in.ts). */
export const MFA_ATTEMPTS = 5;
export const MFA_CHALLENGE_MS = 10 * 60_000;
/** The session-limit ticket lives 5 minutes. */
export const LIMIT_TICKET_MS = 5 * 60_000;

export type SignInStep =
  | { kind: 'mfa'; expiresAt: number; attemptsLeft: number }
  | { kind: 'limit'; sessionLimit: SessionLimit; expiresAt: number };

export class SignInFlow {
  step: SignInStep | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** `auth.login` answered `mfa_required`; the server may say when the challenge ends (else: its defaults). */
  startMfa(result: object = {}): void {
    const said = result as { expiresAt?: unknown; attemptsLeft?: unknown };
    this.step = {
      kind: 'mfa',
      expiresAt: typeof said.expiresAt === 'number' ? said.expiresAt : this.now() + MFA_CHALLENGE_MS,
      attemptsLeft: typeof said.attemptsLeft === 'number' ? said.attemptsLeft : MFA_ATTEMPTS,
    };
  }

  startLimit(sessionLimit: SessionLimit): void {
    this.step = { kind: 'limit', sessionLimit, expiresAt: this.now() + LIMIT_TICKET_MS };
  }

  clear(): void {
    this.step = null;
  }
}
