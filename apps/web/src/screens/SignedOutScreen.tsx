import { useEffect } from 'react';
import { Link, useSearchParams } from 'react-router';
import { AuthLayout } from '../components/AuthLayout';
import { useFocusOnMount } from '../components/hooks';
import { paths } from '../lib/paths';
import { type EndReason, toEndReason } from '../lib/session';
import { formatDuration } from '../lib/time';
import { useServices } from '../services';

export function explainSignOut(
  reason: EndReason,
  options: { elsewhere?: boolean; absoluteMs?: number | null } = {},
): { title: string; body: string } {
  switch (reason) {
    case 'idle_timeout':
      return {
        title: 'You were signed out after a period of inactivity',
        body: 'To protect your account when you step away, we sign you out when there has been no activity for a while.',
      };
    case 'absolute_timeout':
      return {
        title: 'Your session reached its time limit',
        body: `For your security, a session lasts at most ${
          options.absoluteMs ? formatDuration(options.absoluteMs) : '24 hours'
        }, even while you are active. Sign in again to continue.`,
      };
    case 'revoked':
      return {
        title: 'You were signed out from another device',
        body: 'This session was ended from another device where you are signed in. If that wasn’t you, sign in and change your password.',
      };
    case 'evicted':
      return {
        title: 'You were signed out to make room for a new sign-in',
        body: 'Your account signed in on another device while it was already signed in on as many devices as allowed, so this session, the oldest, was ended.',
      };
    case 'password_changed':
      return {
        title: 'Your password was changed',
        body: 'After a password change we sign out every other session. Sign in with the new password to continue.',
      };
    case 'account_disabled':
      return {
        title: 'Your account was disabled',
        body: 'An administrator disabled this account, so every session ended and you can’t sign in. Contact your administrator if you think this is a mistake.',
      };
    case 'device_unbound':
      // A copied cookie used elsewhere, or a browser that could not renew its proof: the same words
      // fit both, without the jargon of either.
      return {
        title: 'We couldn’t confirm this device',
        body: 'This device couldn’t prove it’s the one you signed in on, so we signed you out here. Sign in again to continue.',
      };
    case 'logged_out':
      return options.elsewhere
        ? { title: 'You signed out', body: 'You signed out in another tab of this browser.' }
        : { title: 'You signed out', body: 'You have signed out of Tessera on this device.' };
    case 'ended':
      return { title: 'Your session has ended', body: 'Please sign in again to continue.' };
  }
}

export function SignedOutScreen() {
  const [search] = useSearchParams();
  const reason = toEndReason(search.get('reason'));
  const elsewhere = search.get('elsewhere') === '1';
  const { session, clients } = useServices();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  // Nothing from the ended session stays in memory, however this screen was reached.
  useEffect(() => {
    session.forget();
    clients.queryClient.clear();
  }, [session, clients]);
  const { title, body } = explainSignOut(reason, { elsewhere, absoluteMs: session.lastAbsoluteMs });
  return (
    <AuthLayout>
      <div className="signed-out__icon" aria-hidden="true">
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <rect
            x="5"
            y="10.5"
            width="14"
            height="10"
            rx="2"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
          />
          <path d="M8.5 10.5V8a3.5 3.5 0 0 1 7 0v2.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
        </svg>
      </div>
      <h1 ref={heading} tabIndex={-1} className="auth-card__title" data-reason={reason}>
        {title}
      </h1>
      <p className="auth-card__lead" role="status">
        {body}
      </p>
      <Link to={paths.signIn} className="button button--primary button--block">
        Sign in again
      </Link>
    </AuthLayout>
  );
}
