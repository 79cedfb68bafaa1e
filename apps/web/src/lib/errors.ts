/**
 * Reading the server's error shape (apps/server/src/trpc/errors.ts: `data.reason`, `data.sessionLimit`,
 * `data.retryAfter`, `data.issues`) from whatever a query or mutation threw, with the types the
 * router declares.
 */
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from './trpc';

export type ApiError = TRPCClientError<AppRouter>;
type ErrorData = NonNullable<ApiError['data']>;
export type RefusalReason = NonNullable<ErrorData['reason']>;
export type SessionLimit = NonNullable<ErrorData['sessionLimit']>;
export type LimitSession = SessionLimit['sessions'][number];

export const isApiError = (error: unknown): error is ApiError => error instanceof TRPCClientError;

/** tRPC's error code name (`UNAUTHORIZED`, `FORBIDDEN`, ...), or null for a network failure. */
export function errorCode(error: unknown): string | null {
  return isApiError(error) ? (error.data?.code ?? null) : null;
}

export function errorReason(error: unknown): RefusalReason | null {
  return isApiError(error) ? (error.data?.reason ?? null) : null;
}

export function sessionLimitOf(error: unknown): SessionLimit | null {
  return isApiError(error) && error.data?.code === 'CONFLICT' ? (error.data.sessionLimit ?? null) : null;
}

/** Seconds until a rate limit resets, or null when the error isn't one. */
export function retryAfterSeconds(error: unknown): number | null {
  if (!isApiError(error) || error.data?.code !== 'TOO_MANY_REQUESTS') return null;
  if (typeof error.data.retryAfter === 'number') return error.data.retryAfter;
  // The coarse per-IP request limit says it in words only ("... in 1 minute").
  const match = /in (\d+) (second|minute|hour)/.exec(error.message);
  if (!match) return 60;
  const unit = match[2] === 'hour' ? 3600 : match[2] === 'minute' ? 60 : 1;
  return Number(match[1]) * unit;
}

/** The message the server wrote for one input field (e.g. the password policy), if any. */
export function fieldError(error: unknown, field: string): string | null {
  if (!isApiError(error) || error.data?.code !== 'BAD_REQUEST') return null;
  return error.data.issues?.find((issue) => issue.path === field)?.message ?? null;
}

/** The session is over (as opposed to a wrong password or an expired sign-in step). */
export function isSessionGone(error: unknown): boolean {
  if (errorCode(error) !== 'UNAUTHORIZED') return false;
  const reason = errorReason(error);
  return (
    reason !== 'invalid_credentials' &&
    reason !== 'mfa_challenge_invalid' &&
    reason !== 'ticket_invalid' &&
    reason !== 'invalid_code'
  );
}

/** A friendly sentence for errors a screen doesn't handle specifically. */
export function genericMessage(error: unknown): string {
  if (!isApiError(error)) return 'Something went wrong. Please try again.';
  const code = error.data?.code;
  if (code === 'SERVICE_UNAVAILABLE')
    return 'The service is temporarily unavailable. Please try again shortly.';
  if (code === 'INTERNAL_SERVER_ERROR') return 'Something went wrong on our side. Please try again.';
  if (!code) return 'We couldn’t reach the server. Check your connection and try again.';
  return error.message;
}
