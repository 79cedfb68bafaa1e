import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert } from '../components/Alert';
import { AuthLayout } from '../components/AuthLayout';
import { Field } from '../components/Field';
import { useFocusOnMount, useNow } from '../components/hooks';
import { errorReason, genericMessage, isApiError, retryAfterSeconds } from '../lib/errors';
import { finishSignIn, goToSessionLimit } from '../lib/finish-sign-in';
import { paths } from '../lib/paths';
import { formatCountdown } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';
import { ACCOUNT_DISABLED, rateLimitMessage } from './SignInScreen';

export function MfaScreen() {
  const trpc = useTRPC();
  const services = useServices();
  const navigate = useNavigate();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const inputRef = useRef<HTMLInputElement>(null);
  const step = services.flow.step;
  const [expiresAt] = useState(() => (step?.kind === 'mfa' ? step.expiresAt : Date.now()));
  const [attemptsLeft, setAttemptsLeft] = useState(() => (step?.kind === 'mfa' ? step.attemptsLeft : 0));
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [dead, setDead] = useState(false);
  const verify = useMutation(trpc.auth.verifyMfa.mutationOptions());
  const cancel = useMutation(trpc.auth.logout.mutationOptions());
  const now = useNow(1000);
  const remaining = expiresAt - now;
  const expired = dead || remaining <= 0 || attemptsLeft <= 0;

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    const trimmed = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(trimmed)) {
      setError('Enter the 6-digit code from your authenticator app.');
      inputRef.current?.focus();
      return;
    }
    setError(null);
    try {
      await verify.mutateAsync({ code: trimmed });
      finishSignIn(services, navigate);
    } catch (err) {
      if (goToSessionLimit(err, services, navigate)) return;
      const wait = retryAfterSeconds(err);
      const reason = errorReason(err);
      if (wait !== null) {
        setError(rateLimitMessage(wait));
      } else if (reason === 'invalid_code') {
        const data = isApiError(err) ? (err.data as { attemptsLeft?: unknown } | undefined) : undefined;
        const left = typeof data?.attemptsLeft === 'number' ? data.attemptsLeft : attemptsLeft - 1;
        setAttemptsLeft(left);
        setError(
          left > 0
            ? `That code didn’t work. ${left} attempt${left === 1 ? '' : 's'} left.`
            : 'That code didn’t work, and this sign-in has no attempts left.',
        );
        if (left <= 0) setDead(true);
      } else if (reason === 'account_disabled') {
        setDead(true);
        setError(ACCOUNT_DISABLED);
        return;
      } else if (reason === 'mfa_challenge_invalid') {
        setDead(true);
        setError(null);
      } else {
        setError(genericMessage(err));
      }
      setCode('');
      inputRef.current?.focus();
    }
  }

  async function startOver() {
    // Ends the pending challenge on the server too (its cookie is cleared).
    await cancel.mutateAsync().catch(() => {});
    services.flow.clear();
    navigate(paths.signIn);
  }

  return (
    <AuthLayout>
      <h1 ref={heading} tabIndex={-1} className="auth-card__title">
        Two-step verification
      </h1>
      <p className="auth-card__lead">
        Open your authenticator app and enter the 6-digit code shown for Tessera.
      </p>
      {expired ? (
        <>
          <Alert>
            {error === ACCOUNT_DISABLED
              ? ACCOUNT_DISABLED
              : remaining <= 0 && !dead
                ? 'This sign-in step expired. Please sign in again.'
                : 'This sign-in can’t continue: too many wrong codes, or it expired. Please sign in again.'}
          </Alert>
          <button type="button" className="button button--primary button--block" onClick={startOver}>
            Sign in again
          </button>
        </>
      ) : (
        <>
          <Alert>{error}</Alert>
          <form className="form" onSubmit={onSubmit} noValidate aria-busy={verify.isPending}>
            <Field
              ref={inputRef}
              label="Verification code"
              name="code"
              className="field--code"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]*"
              maxLength={6}
              spellCheck={false}
              value={code}
              onChange={(e) => setCode(e.target.value.replace(/\D/g, '').slice(0, 6))}
            />
            <p className="meta-line" aria-live="off">
              <span>
                {attemptsLeft} attempt{attemptsLeft === 1 ? '' : 's'} left
              </span>
              <span aria-hidden="true"> · </span>
              <span>
                Expires in <span className="tabular">{formatCountdown(remaining)}</span>
              </span>
            </p>
            <button
              type="submit"
              className="button button--primary button--block"
              disabled={verify.isPending}
            >
              {verify.isPending ? 'Verifying…' : 'Verify'}
            </button>
          </form>
          <p className="auth-card__aside">
            <button type="button" className="link-button" onClick={startOver}>
              Cancel and use a different account
            </button>
          </p>
        </>
      )}
    </AuthLayout>
  );
}
