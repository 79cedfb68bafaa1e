/**
 * What a Tessera session carries besides session-core's metadata, and the one reader of it.
 */
import type { Session } from '@tessera/session-core';
import type { Role } from '../users/repository.js';

/** Read defensively (`sessionData`): it comes back from a store as JSON. */
export type AppSessionData = {
  role: Role;
  /** When the user last proved knowledge of the password (sign-in or auth.reauthenticate), ms. */
  authAt: number;
  /** Whether a second factor was verified at sign-in. */
  mfa: boolean;
  /**
   * A TOTP secret awaiting confirmation (between mfa.beginEnrollment and mfa.confirmEnrollment),
   * sealed like the stored factor (users.sealPendingSecret): the session store is dumped too.
   */
  mfaPending?: string | null;
  /** When the pending secret stops being confirmable (ms); see mfa.beginEnrollment. */
  mfaPendingUntil?: number;
  /**
   * What auth.me returns besides the role, kept here so it needs no users read: the account's email
   * (it never changes) and whether MFA is on for the account (every session of the user is updated
   * when it changes). Absent in sessions issued before these fields existed: auth.me reads the user then.
   */
  email?: string;
  mfaEnabled?: boolean;
};

export type AppSession = Session<AppSessionData>;

/** Reads the session data the way the rest of the server expects it, whatever the store returned. */
export function sessionData(session: AppSession): AppSessionData {
  const d = session.data as Partial<AppSessionData>;
  const data: AppSessionData = {
    role: d.role === 'admin' ? 'admin' : 'user',
    authAt: typeof d.authAt === 'number' ? d.authAt : 0,
    mfa: d.mfa === true,
    mfaPending: typeof d.mfaPending === 'string' ? d.mfaPending : null,
    mfaPendingUntil: typeof d.mfaPendingUntil === 'number' ? d.mfaPendingUntil : 0,
  };
  if (typeof d.email === 'string') data.email = d.email;
  if (typeof d.mfaEnabled === 'boolean') data.mfaEnabled = d.mfaEnabled;
  return data;
}
