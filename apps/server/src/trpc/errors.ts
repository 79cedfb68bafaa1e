/**
 * Errors procedures throw, and the one place that decides what a failure means over HTTP:
 * `formatError` (the router's errorFormatter: the status and body a client sees) and `logFailure`
 * (the /trpc route's onError: what the operator sees) both classify through `failureKind`. "No
 * session" is a value in the context; turning it into UNAUTHORIZED with a `data.reason` happens here.
 * A store or database that can't answer is a 503, never "signed out".
 */
import { TRPCError, type TRPCErrorShape } from '@trpc/server';
import type { Logger } from 'pino';
import { isUnavailable } from '../infra/unavailable.js';
import type { Metrics } from '../metrics/metrics.js';
import type { NoSessionReason } from './context.js';

/** Why a request was refused, exposed to clients as `data.reason`. */
export type RefusalReason =
  | NoSessionReason
  /** freshProcedure: the password was not re-entered recently enough (auth.reauthenticate). */
  | 'reauthentication_required'
  /** adminProcedure: the session's role is not admin. */
  | 'admin_required'
  /** auth.verifyMfa without a live MFA challenge (none, expired, or out of attempts). */
  | 'mfa_challenge_invalid'
  /** auth.resolveSessionLimit with a ticket that is unknown, used or expired. */
  | 'ticket_invalid'
  /** Wrong email or password (auth.login), or wrong password (reauthenticate, changePassword). */
  | 'invalid_credentials'
  /** A TOTP code that is wrong, or was already used. */
  | 'invalid_code'
  /**
   * Sign-in to an account an administrator disabled: said only after the correct password (a wrong
   * one gets `invalid_credentials`, so the answer reveals nothing to whoever doesn't know it).
   */
  | 'account_disabled';

class Refusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly extra: { attemptsLeft?: number } = {},
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

export function unauthorized(
  reason: RefusalReason,
  message = 'Not signed in',
  extra?: { attemptsLeft?: number },
): TRPCError {
  return new TRPCError({ code: 'UNAUTHORIZED', message, cause: new Refusal(reason, message, extra) });
}

export function forbidden(reason: RefusalReason, message: string): TRPCError {
  return new TRPCError({ code: 'FORBIDDEN', message, cause: new Refusal(reason, message) });
}

/** One public session, as listed in the CONFLICT error of the `reject` limit policy. */
export interface LimitSession {
  id: string;
  createdAt: number;
  lastActivityAt: number;
  userAgent: string | null;
  ip: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
}

class LimitReached extends Error {
  constructor(readonly sessionLimit: { limit: number; sessions: LimitSession[]; ticket: string }) {
    super('Session limit reached');
    this.name = 'LimitReached';
  }
}

export function sessionLimitConflict(sessionLimit: {
  limit: number;
  sessions: LimitSession[];
  ticket: string;
}): TRPCError {
  const message = `You already have ${sessionLimit.limit} active sessions: end one to sign in here.`;
  return new TRPCError({ code: 'CONFLICT', message, cause: new LimitReached(sessionLimit) });
}

class Throttled extends Error {
  constructor(readonly retryAfterMs: number) {
    super('Too many attempts');
    this.name = 'Throttled';
  }
}

export function tooManyRequests(retryAfterMs: number): TRPCError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: `Too many attempts. Try again in ${seconds} s.`,
    cause: new Throttled(retryAfterMs),
  });
}

class InputProblem extends Error {
  constructor(readonly issues: { path: PropertyKey[]; message: string }[]) {
    super(issues[0]?.message ?? 'Invalid input');
    this.name = 'InputProblem';
  }
}

/** BAD_REQUEST about one input field, with a message meant for the user (e.g. the password policy). */
export function badInput(field: string, message: string): TRPCError {
  return new TRPCError({
    code: 'BAD_REQUEST',
    message,
    cause: new InputProblem([{ path: [field], message }]),
  });
}

/** Extra fields in `error.data`, next to tRPC's `code`, `httpStatus` and `path`. */
export interface ErrorData {
  code: string;
  httpStatus: number;
  path?: string;
  /** Why there is no session (UNAUTHORIZED) or why it isn't enough (FORBIDDEN). */
  reason?: RefusalReason;
  /** CONFLICT from the `reject` limit policy: the live sessions and a ticket to end one of them. */
  sessionLimit?: { limit: number; sessions: LimitSession[]; ticket: string };
  /** UNAUTHORIZED `invalid_code` from auth.verifyMfa: wrong codes the challenge still accepts. */
  attemptsLeft?: number;
  /** TOO_MANY_REQUESTS: seconds until the window resets (also in the Retry-After header). */
  retryAfter?: number;
  /** BAD_REQUEST from input validation: which field, and what is wrong with it. */
  issues?: { path: string; message: string }[];
}

const SERVICE_UNAVAILABLE_JSONRPC = -32603;

/**
 * What a failure is: a backing service that could not answer (503, whatever code the error was
 * thrown with: a store failure inside a procedure or in createContext reaches tRPC as an internal
 * error), a bug (500, details only in the log), or an answer to the client (4xx).
 */
export function failureKind(error: TRPCError): 'unavailable' | 'bug' | 'refusal' {
  if (error.code === 'SERVICE_UNAVAILABLE' || isUnavailable(error.cause)) return 'unavailable';
  if (error.code === 'INTERNAL_SERVER_ERROR') return 'bug';
  return 'refusal';
}

/**
 * The /trpc route's onError: the log line and the store-error count. Never logs `input` (passwords,
 * codes) or the context (tokens).
 */
export function logFailure(
  log: Logger,
  metrics: Pick<Metrics, 'storeError'>,
  failure: { error: TRPCError; path?: string; type: string },
): void {
  const { error, path, type } = failure;
  const kind = failureKind(error);
  if (kind === 'unavailable') {
    metrics.storeError();
    log.warn({ err: error.cause ?? error, path, type }, 'dependency unavailable');
  } else if (kind === 'bug') log.error({ err: error.cause ?? error, path, type }, 'procedure failed');
}

export function formatError(
  shape: TRPCErrorShape<{ code: string; httpStatus: number; path?: string; stack?: string }>,
  error: TRPCError,
  exposeStack: boolean,
): TRPCErrorShape<ErrorData> {
  const { stack: _stack, ...base } = shape.data;
  const data: ErrorData = exposeStack && _stack ? { ...base, ...{ stack: _stack } } : { ...base };
  let message = shape.message;
  let code = shape.code;
  const cause = error.cause;

  const kind = failureKind(error);
  if (kind === 'unavailable') {
    code = SERVICE_UNAVAILABLE_JSONRPC;
    data.code = 'SERVICE_UNAVAILABLE';
    data.httpStatus = 503;
    message = 'The service is temporarily unavailable. Please retry shortly.';
  } else if (kind === 'bug') {
    message = 'Internal server error';
  }
  if (cause instanceof Refusal) {
    data.reason = cause.reason;
    if (cause.extra.attemptsLeft !== undefined) data.attemptsLeft = cause.extra.attemptsLeft;
  }
  if (cause instanceof LimitReached) data.sessionLimit = cause.sessionLimit;
  if (cause instanceof Throttled) data.retryAfter = Math.max(1, Math.ceil(cause.retryAfterMs / 1000));
  if (error.code === 'BAD_REQUEST' && cause && Array.isArray((cause as { issues?: unknown }).issues)) {
    const issues = (cause as unknown as { issues: { path?: PropertyKey[]; message: string }[] }).issues;
    data.issues = issues.map((i) => ({ path: (i.path ?? []).map(String).join('.'), message: i.message }));
    if (!(cause instanceof InputProblem)) message = 'Invalid input';
  }
  return { ...shape, code, message, data };
}
