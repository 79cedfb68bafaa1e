import type { Services } from '../services';
import { sessionLimitOf } from './errors';
import { paths } from './paths';

/**
 * Every way of signing in ends here: forget the sign-in steps and anything cached from before, tell
 * the other tabs, and go to the signed-in screens (whose guard loads auth.me).
 */
export function finishSignIn(services: Services, navigate: (to: typeof paths.sessions) => void): void {
  services.flow.clear();
  services.clients.queryClient.clear();
  services.session.announceSignIn();
  navigate(paths.sessions);
}

/**
 * A sign-in step (password or MFA code) refused because the account is at its session limit: start
 * the limit step and go to it. False for any other error, which the screen reports itself.
 */
export function goToSessionLimit(err: unknown, services: Services, navigate: (to: string) => void): boolean {
  const limit = sessionLimitOf(err);
  if (!limit) return false;
  services.flow.startLimit(limit);
  navigate(paths.sessionLimit);
  return true;
}
