import type { Services } from '../services';
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
