import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert } from '../components/Alert';
import { AuthLayout } from '../components/AuthLayout';
import { Field } from '../components/Field';
import { useFocusOnMount } from '../components/hooks';
import { errorCode, errorReason, genericMessage, retryAfterSeconds } from '../lib/errors';
import { finishSignIn, goToSessionLimit } from '../lib/finish-sign-in';
import { paths } from '../lib/paths';
import { formatTime, formatWait } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';

/** The same words for every credential failure: they must not tell which part was wrong. */
export const INVALID_CREDENTIALS = 'The email or password is incorrect. Check them and try again.';

/**
 * The server says it only after the correct password (a wrong one gets the generic error), so
 * saying it here tells nothing to someone who doesn't know the password.
 */
export const ACCOUNT_DISABLED = 'This account is disabled. Contact your administrator.';

export function rateLimitMessage(seconds: number, now = Date.now()): string {
  return `Too many sign-in attempts. For your security, wait ${formatWait(seconds)} and try again (after ${formatTime(now + seconds * 1000)}).`;
}

export function SignInScreen() {
  const trpc = useTRPC();
  const services = useServices();
  const navigate = useNavigate();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const passwordRef = useRef<HTMLInputElement>(null);
  const login = useMutation(trpc.auth.login.mutationOptions());
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [missing, setMissing] = useState<{ email?: string; password?: string }>({});
  const [error, setError] = useState<string | null>(null);
  const [blockedUntil, setBlockedUntil] = useState<number | null>(null);

  useEffect(() => {
    if (blockedUntil === null) return;
    const timer = setTimeout(() => setBlockedUntil(null), Math.max(0, blockedUntil - Date.now()));
    return () => clearTimeout(timer);
  }, [blockedUntil]);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    const problems = {
      ...(email.trim() ? {} : { email: 'Enter your email address.' }),
      ...(password ? {} : { password: 'Enter your password.' }),
    };
    setMissing(problems);
    if (problems.email || problems.password) return;
    setError(null);
    try {
      const result = await login.mutateAsync({ email: email.trim(), password });
      if (result.status === 'mfa_required') {
        services.flow.startMfa(result);
        navigate(paths.mfa);
        return;
      }
      finishSignIn(services, navigate);
    } catch (err) {
      if (goToSessionLimit(err, services, navigate)) return;
      const wait = retryAfterSeconds(err);
      if (wait !== null) {
        setError(rateLimitMessage(wait));
        setBlockedUntil(Date.now() + wait * 1000);
      } else if (errorReason(err) === 'account_disabled') {
        setError(ACCOUNT_DISABLED);
      } else if (errorCode(err) === 'UNAUTHORIZED' || errorCode(err) === 'BAD_REQUEST') {
        setError(INVALID_CREDENTIALS);
      } else {
        setError(genericMessage(err));
      }
      setPassword('');
      passwordRef.current?.focus();
    }
  }

  const busy = login.isPending;
  return (
    <AuthLayout>
      <h1 ref={heading} tabIndex={-1} className="auth-card__title">
        Sign in
      </h1>
      <p className="auth-card__lead">Use your Tessera account.</p>
      <Alert>{error}</Alert>
      <form className="form" onSubmit={onSubmit} noValidate aria-busy={busy}>
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="username"
          inputMode="email"
          spellCheck={false}
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={missing.email}
          required
        />
        <Field
          ref={passwordRef}
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={missing.password}
          required
        />
        <button
          type="submit"
          className="button button--primary button--block"
          disabled={busy || blockedUntil !== null}
        >
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </AuthLayout>
  );
}
