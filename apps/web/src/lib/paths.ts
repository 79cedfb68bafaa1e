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
  admin: '/admin',
} as const;

export type Path = (typeof paths)[keyof typeof paths];

/** The signed-out screen, saying why. `elsewhere`: the sign-out happened in another tab. */
export function signedOutPath(reason: EndReason, elsewhere = false): `${typeof paths.signedOut}?${string}` {
  const search = new URLSearchParams({ reason });
  if (elsewhere) search.set('elsewhere', '1');
  return `${paths.signedOut}?${search}`;
}

export type Target = Path | ReturnType<typeof signedOutPath>;
