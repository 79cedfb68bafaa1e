/**
 * The one place that knows whether this tab is signed in, and that ends it: clears the query cache
 * (no data of the previous session stays in memory), forgets the deadlines, tells the other tabs,
 * and shows the signed-out screen with the reason. Every way a session can end goes through `end`:
 * the server's event (subscription), an UNAUTHORIZED answer, the idle timer, a sign-out here or in
 * another tab.
 */
import type { QueryClient } from '@tanstack/react-query';
import type { DeadlineTracker } from './deadlines';
import { errorCode, errorReason, isSessionGone } from './errors';
import { paths, signedOutPath, type Target } from './paths';
import type { EndReason, TabChannel, TabMessage } from './tabs';
import type { Trpc } from './trpc';

export type { EndReason };

export const END_REASONS: readonly EndReason[] = [
  'idle_timeout',
  'absolute_timeout',
  'revoked',
  'evicted',
  'password_changed',
  'account_disabled',
  'device_unbound',
  'logged_out',
  'ended',
];

/** Any reason the server gives (or none) as one the signed-out screen can explain. */
export function toEndReason(reason: unknown): EndReason {
  return END_REASONS.includes(reason as EndReason) ? (reason as EndReason) : 'ended';
}

/** Client-side navigation (replacing the current history entry), given once the router is mounted. */
export type Navigate = (to: Target) => void;

export interface SessionControllerOptions {
  queryClient: QueryClient;
  trpc: Trpc;
  tracker: DeadlineTracker;
  channel: TabChannel;
}

export class SessionController {
  #signedIn = false;
  /** The server's maximum session length, remembered past the end (the signed-out screen says it). */
  lastAbsoluteMs: number | null = null;
  #notice: string | null = null;
  #navigate: Navigate | null = null;
  /** This tab asked the server to sign out (so a `logged_out` end is ours, not another tab's). */
  #signingOut = false;
  #listeners = new Set<() => void>();
  readonly tracker: DeadlineTracker;
  #stopListening: () => void;

  constructor(private readonly options: SessionControllerOptions) {
    this.tracker = options.tracker;
    this.tracker.onLocalChange = (idleExpiresAt) => {
      if (this.#signedIn) options.channel.post({ type: 'deadline', idleExpiresAt });
    };
    this.#stopListening = options.channel.listen((message) => this.#onTabMessage(message));
  }

  get signedIn(): boolean {
    return this.#signedIn;
  }

  /** The route guard saw a live session (auth.me answered). */
  markSignedIn(): void {
    this.#signedIn = true;
  }

  /** This tab is about to call auth.logout. Returns the undo for when the call fails. */
  beginSignOut(): () => void {
    this.#signingOut = true;
    return () => {
      this.#signingOut = false;
    };
  }

  /** The route guard found no session (the signed-out screen or the sign-in page takes over). */
  forget(): void {
    this.#signedIn = false;
    this.tracker.clear();
  }

  /** This tab just signed in: tabs on the sign-in or signed-out screen follow. */
  announceSignIn(): void {
    this.options.channel.post({ type: 'signed-in' });
  }

  /** Ends the session in this tab (and, unless the news came from another tab, in the others). */
  async end(reason: EndReason, from: 'here' | 'other-tab' = 'here'): Promise<void> {
    if (!this.#signedIn) return;
    this.#signedIn = false;
    this.lastAbsoluteMs = this.tracker.state.absoluteMs ?? this.lastAbsoluteMs;
    this.tracker.clear();
    if (from === 'here') this.options.channel.post({ type: 'ended', reason });
    // The cookie is shared by every tab of this browser: a sign-out this tab didn't ask for came from
    // another tab, whether the news arrived over the BroadcastChannel or from the server's event.
    const elsewhere = reason === 'logged_out' && (from === 'other-tab' || !this.#signingOut);
    this.#signingOut = false;
    this.navigate(signedOutPath(reason, elsewhere));
    // After leaving the signed-in screens (the navigation renders synchronously in a transition-free
    // update), so that nothing refetches with the dead cookie.
    await Promise.resolve();
    this.options.queryClient.clear();
  }

  /** For the query and mutation caches: answers that mean the session (or a privilege) is gone. */
  handleError = (error: unknown): void => {
    if (this.#signedIn && isSessionGone(error)) {
      void this.end(toEndReason(errorReason(error)));
      return;
    }
    if (errorCode(error) === 'FORBIDDEN' && errorReason(error) === 'admin_required') {
      this.setNotice('Your administrator access was removed, so the Admin page is no longer available.');
      void this.options.queryClient.invalidateQueries(this.options.trpc.auth.me.pathFilter());
      this.navigate(paths.sessions);
    }
  };

  /** A one-time message for the signed-in screens (shown once, then cleared). */
  get notice(): string | null {
    return this.#notice;
  }

  setNotice(notice: string | null): void {
    this.#notice = notice;
    for (const listener of this.#listeners) listener();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getNotice = (): string | null => this.#notice;

  /** Navigates when the router is mounted (routes.tsx hands its navigate function over). */
  navigate(to: Target): void {
    this.#navigate?.(to);
  }

  setNavigate(navigate: Navigate | null): void {
    this.#navigate = navigate;
  }

  dispose(): void {
    this.#stopListening();
  }

  #onTabMessage(message: TabMessage): void {
    switch (message.type) {
      case 'ended':
        void this.end(message.reason, 'other-tab');
        return;
      case 'deadline':
        this.tracker.fromOtherTab(message.idleExpiresAt);
        return;
      case 'signed-in':
        if (this.#signedIn) return;
        this.options.queryClient.clear();
        this.navigate(paths.home);
        return;
    }
  }
}
