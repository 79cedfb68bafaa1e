/**
 * Messages between the tabs of this browser (BroadcastChannel: in memory, same origin, never
 * persisted). They carry no token and no personal data: only what happened to the shared session.
 */
export type EndReason =
  | 'idle_timeout'
  | 'absolute_timeout'
  | 'revoked'
  | 'evicted'
  | 'password_changed'
  | 'account_disabled'
  /**
   * Not an end on the server: the session is bound to a device key and this browser sent no fresh
   * proof of it (a copied cookie, or a browser that could not refresh). It stays live where it was
   * bound; here, it is over.
   */
  | 'device_unbound'
  | 'logged_out'
  | 'ended';

export type TabMessage =
  /** The session ended (signed out, revoked, expired...): every tab leaves. */
  | { type: 'ended'; reason: EndReason }
  /** A tab signed in: tabs showing the sign-in or signed-out screen follow. */
  | { type: 'signed-in' }
  /** A request in some tab slid the idle deadline (server clock, ms). */
  | { type: 'deadline'; idleExpiresAt: number };

export interface TabChannel {
  post(message: TabMessage): void;
  listen(listener: (message: TabMessage) => void): () => void;
  close(): void;
}

const NAME = 'tessera-session';

export function openTabChannel(): TabChannel {
  if (typeof BroadcastChannel === 'undefined') {
    return { post() {}, listen: () => () => {}, close() {} };
  }
  const channel = new BroadcastChannel(NAME);
  return {
    post: (message) => channel.postMessage(message),
    listen(listener) {
      const handler = (event: MessageEvent<TabMessage>) => listener(event.data);
      channel.addEventListener('message', handler);
      return () => channel.removeEventListener('message', handler);
    },
    close: () => channel.close(),
  };
}
