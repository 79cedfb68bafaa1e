/**
 * Every path of the app, in one typed table: screens link and navigate through these (never with a
 * string literal), so a renamed route or a wrong search parameter is a type error. The route tree
 * (routes.tsx) is built from the same table.
 */
import type { EndReason } from './tabs';

export const paths = {
  home: '/',
  signIn: '/sign-in',
  mfa: '/sign-in/verify',
  sessionLimit: '/sign-in/limit',
  signedOut: '/signed-out',
  sessions: '/sessions',
  account: '/account',
  activity: '/activity',
  admin: '/admin',
  auditLog: '/admin/audit',
} as const;

export type Path = (typeof paths)[keyof typeof paths];

/** The signed-out screen, saying why. `elsewhere`: the sign-out happened in another tab. */
export function signedOutPath(reason: EndReason, elsewhere = false): `${typeof paths.signedOut}?${string}` {
  const search = new URLSearchParams({ reason });
  if (elsewhere) search.set('elsewhere', '1');
  return `${paths.signedOut}?${search}`;
}

/** The route of one user's page in the admin console (routes.tsx); links use `adminUserPath`. */
export const adminUserRoute = `${paths.admin}/users/:userId` as const;

export function adminUserPath(userId: string): `${typeof paths.admin}/users/${string}` {
  return `${paths.admin}/users/${encodeURIComponent(userId)}`;
}

/** The Security screen with the focus on the password change ("This wasn't me" leads there). */
export const changePasswordPath = `${paths.account}#change-password` as const;

/** The audit log's filters, as they appear in its URL (so a filtered view can be linked to). */
export interface AuditFilters {
  types?: readonly string[];
  email?: string;
  /** YYYY-MM-DD, the browser's time zone. */
  from?: string;
  to?: string;
}

export function auditLogSearch(filters: AuditFilters): URLSearchParams {
  const search = new URLSearchParams();
  if (filters.types?.length) search.set('types', filters.types.join(','));
  if (filters.email) search.set('email', filters.email);
  if (filters.from) search.set('from', filters.from);
  if (filters.to) search.set('to', filters.to);
  return search;
}

export function auditLogPath(
  filters: AuditFilters = {},
): typeof paths.auditLog | `${typeof paths.auditLog}?${string}` {
  const query = auditLogSearch(filters).toString();
  return query ? `${paths.auditLog}?${query}` : paths.auditLog;
}

export type Target = Path | ReturnType<typeof signedOutPath>;
