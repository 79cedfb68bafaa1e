/**
 * Security events in plain words, for the person whose account it is (Recent activity) and for
 * administrators (a user's page, the audit log). The server sends the event's type, reason and
 * actor kind (apps/server/src/audit/events.ts); what they mean to a person is decided here, once.
 */
import type { inferRouterOutputs } from '@trpc/server';
import { deviceTitle } from '../components/DeviceIcon';
import type { AppRouter } from './trpc';

export const EVENT_TYPES = [
  'sign_in',
  'sign_in_failed',
  'rate_limited',
  'session_ended',
  'password_changed',
  'mfa_enabled',
  'mfa_disabled',
  'role_changed',
  'account_disabled',
  'account_enabled',
  'device_bound',
  'device_proof_refused',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Every type the server can send (admin.auditEvents): one it adds without a label is a type error below. */
type ServerEventType = inferRouterOutputs<AppRouter>['admin']['auditEvents']['events'][number]['type'];

/** The audit log's filter checkboxes. */
export const EVENT_TYPE_LABELS: Record<EventType | ServerEventType, string> = {
  sign_in: 'Sign-ins',
  sign_in_failed: 'Failed sign-ins',
  rate_limited: 'Too many attempts',
  session_ended: 'Sessions ended',
  password_changed: 'Password changes',
  mfa_enabled: 'Two-step turned on',
  mfa_disabled: 'Two-step turned off',
  role_changed: 'Role changes',
  account_disabled: 'Accounts disabled',
  account_enabled: 'Accounts enabled',
  device_bound: 'Device bindings',
  device_proof_refused: 'Refused device proofs',
};

/** "Showing the latest 20 events." / "Showing all 3 events." / "Showing 1 event." */
export function shownSummary(count: number, more: boolean, suffix = ''): string {
  if (more) return `Showing the latest ${count} events${suffix}.`;
  return count === 1 ? `Showing 1 event${suffix}.` : `Showing all ${count} events${suffix}.`;
}

export type ActorKind = 'self' | 'session' | 'admin' | 'system';

/** What every view of an event has (account.activity, admin.getUser, admin.auditEvents). */
export interface EventLike {
  id: string;
  type: string;
  at: number;
  reason: string | null;
  ip: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  detail: Record<string, string | number | boolean | null>;
  actor: { kind: ActorKind; current?: boolean };
  /** account.activity: the event concerns this very session. */
  current?: boolean;
}

const SESSION_ENDED: Record<string, string> = {
  logged_out: 'Signed out',
  revoked: 'Session ended: signed out remotely',
  evicted: 'Session ended: removed to make room for a new sign-in',
  password_changed: 'Session ended: password changed',
  idle_timeout: 'Session ended: timed out after inactivity',
  absolute_timeout: 'Session ended: reached its maximum length',
  account_disabled: 'Session ended: account disabled',
};

const FAILED: Record<string, string> = {
  password: 'Failed sign-in: wrong password',
  code: 'Failed sign-in: wrong two-step code',
  account_disabled: 'Sign-in refused: account disabled',
};

/** Why a device proof was refused (the server's `detail.reason`), in words a person can act on. */
const PROOF_REFUSED: Record<string, string> = {
  foreign_key: 'Refused a device proof: it came from a different device',
  bad_proof: 'Refused a device proof: it didn’t check out',
  already_bound: 'Refused a device proof: the session was already bound to a device',
  bad_challenge: 'Refused a device proof: it was out of date or already used',
};

const roleName = (role: unknown) =>
  role === 'admin' ? 'administrator' : role === 'user' ? 'user' : String(role);

/** "Signed in", "Failed sign-in: wrong password", "Session ended: timed out after inactivity"... */
export function describeEvent(event: Pick<EventLike, 'type' | 'reason' | 'detail'>): string {
  switch (event.type) {
    case 'sign_in':
      return 'Signed in';
    case 'sign_in_failed':
      return (event.reason && FAILED[event.reason]) || 'Failed sign-in';
    case 'rate_limited':
      return 'Sign-in blocked: too many attempts';
    case 'session_ended':
      return (event.reason && SESSION_ENDED[event.reason]) || 'Session ended';
    case 'password_changed':
      return 'Password changed';
    case 'mfa_enabled':
      return 'Two-step verification turned on';
    case 'mfa_disabled':
      return 'Two-step verification turned off';
    case 'role_changed':
      return typeof event.detail.to === 'string'
        ? `Role changed to ${roleName(event.detail.to)}`
        : 'Role changed';
    case 'account_disabled':
      return 'Account disabled';
    case 'account_enabled':
      return 'Account enabled';
    case 'device_bound':
      return 'Session bound to its device';
    case 'device_proof_refused': {
      const why = event.detail.reason ?? event.reason;
      return (typeof why === 'string' && PROOF_REFUSED[why]) || 'Refused a device proof';
    }
    default:
      return event.type.replace(/_/g, ' ');
  }
}

/**
 * Events that should catch the eye (someone tried a password, the limit stepped in, a browser
 * offered a proof of a device it isn't), with a word that says so in text: the warning colour is
 * never the only sign.
 */
export function eventFlag(type: string): string | null {
  if (type === 'sign_in_failed') return 'Failed';
  if (type === 'rate_limited') return 'Blocked';
  if (type === 'device_proof_refused') return 'Refused';
  return null;
}

/** A sign-in attempt that may not have been the account's owner: no "you" for these. */
const isAttempt = (type: string) => type === 'sign_in_failed' || type === 'rate_limited';

/**
 * A refused device proof came from a browser holding the session's cookie: the owner's, unable to
 * prove its key, or one the cookie was copied to. Not "you": which of the two is for them to judge.
 */
const isProofRefused = (type: string) => type === 'device_proof_refused';

const deviceOf = (event: Pick<EventLike, 'browser' | 'os'>) =>
  event.browser || event.os ? deviceTitle(event) : null;

/**
 * Who did it, as the account's owner reads it: "you, on this device", "you, on Firefox 140 on
 * Linux", "you, on another device", "an administrator", "Tessera (automatic)".
 */
export function actorForOwner(event: EventLike): string {
  // The device is beside it; whether it was the owner is exactly what they are asked to judge.
  if (isAttempt(event.type)) return 'someone signing in';
  if (isProofRefused(event.type)) return 'a browser using your session';
  switch (event.actor.kind) {
    case 'self': {
      if (event.actor.current || event.current) return 'you, on this device';
      const device = deviceOf(event);
      return device ? `you, on ${device}` : 'you, on another device';
    }
    case 'session':
      return event.actor.current ? 'you, on this device' : 'you, on another device';
    case 'admin':
      return 'an administrator';
    default:
      return 'Tessera (automatic)';
  }
}

/** Who did it, as an administrator reads it (the user's page, the audit log). */
export function actorForAdmin(
  event: EventLike,
  names: { userEmail?: string | null; actorEmail?: string | null; actorIsMe?: boolean } = {},
): string {
  if (isAttempt(event.type)) return 'someone signing in';
  if (isProofRefused(event.type)) return 'a browser using the session';
  const user = names.userEmail ?? 'the user';
  switch (event.actor.kind) {
    case 'self':
      return user;
    case 'session':
      return `${user}, from another session`;
    case 'admin':
      if (names.actorIsMe) return 'you (administrator)';
      return names.actorEmail ? `${names.actorEmail} (administrator)` : 'an administrator';
    default:
      return 'Tessera (automatic)';
  }
}

/** "This wasn't me" belongs on sign-ins of other sessions (this one is you, by definition). */
export const canDisown = (event: EventLike) => event.type === 'sign_in' && !event.current;

/** A YYYY-MM-DD date input, as the start of that day in this browser's time zone (ms). */
export function startOfDay(date: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return null;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])).getTime();
}

/** The end of that day: the start of the next (the audit query's upper bound is exclusive). */
export function endOfDay(date: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return null;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + 1).getTime();
}
