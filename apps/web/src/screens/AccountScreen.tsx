import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, lazy, Suspense, useEffect, useId, useRef, useState } from 'react';
import { useLocation } from 'react-router';
import { Alert } from '../components/Alert';
import { Field } from '../components/Field';
import { useFocusOnMount } from '../components/hooks';
import { ReauthCancelled, useFresh } from '../components/Reauth';
import { errorCode, errorReason, fieldError, genericMessage, retryAfterSeconds } from '../lib/errors';
import { meQueryOptions } from '../lib/me';
import { formatWait } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';

const QrCode = lazy(() => import('../components/QrCode'));

/** OWASP: at least 12 characters, no composition rules; the server checks common passwords too. */
export const MIN_PASSWORD_LENGTH = 12;

export function passwordChangedMessage(revoked: number): string {
  if (revoked === 0) return 'Your password was changed. You weren’t signed in anywhere else.';
  return `Your password was changed, and ${revoked} other session${revoked === 1 ? ' was' : 's were'} signed out.`;
}

/** The password change's anchor (lib/paths.ts changePasswordPath): "This wasn't me" leads there. */
const CHANGE_PASSWORD = 'change-password';

export function AccountScreen() {
  const location = useLocation();
  const toPassword = location.hash === `#${CHANGE_PASSWORD}`;
  const heading = useFocusOnMount<HTMLHeadingElement>(!toPassword);
  return (
    <div className="screen">
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            Security
          </h1>
          <p className="screen__lead">Your password and two-step verification.</p>
        </div>
      </div>
      <ChangePassword focus={toPassword} />
      <TwoStep />
    </div>
  );
}

function ChangePassword({ focus }: { focus: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const titleId = useId();
  const currentRef = useRef<HTMLInputElement>(null);
  // Arriving to change the password (after "This wasn't me"): straight to its first field.
  useEffect(() => {
    if (!focus) return;
    currentRef.current?.focus();
    currentRef.current?.scrollIntoView?.({ block: 'center' });
  }, [focus]);
  const change = useMutation(trpc.auth.changePassword.mutationOptions());
  const [form, setForm] = useState({ current: '', next: '', confirm: '' });
  const [errors, setErrors] = useState<{ current?: string; next?: string; confirm?: string }>({});
  const [message, setMessage] = useState<{ tone: 'success' | 'error'; text: string } | null>(null);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    const problems = {
      ...(form.current ? {} : { current: 'Enter your current password.' }),
      ...(form.next.length >= MIN_PASSWORD_LENGTH
        ? {}
        : { next: `Use at least ${MIN_PASSWORD_LENGTH} characters.` }),
      ...(form.confirm === form.next ? {} : { confirm: 'The two new passwords don’t match.' }),
    };
    setErrors(problems);
    setMessage(null);
    if (Object.keys(problems).length > 0) return;
    try {
      const { revoked } = await change.mutateAsync({ currentPassword: form.current, newPassword: form.next });
      setForm({ current: '', next: '', confirm: '' });
      setMessage({ tone: 'success', text: passwordChangedMessage(revoked) });
      await queryClient.invalidateQueries(trpc.sessions.list.pathFilter());
    } catch (error) {
      const wait = retryAfterSeconds(error);
      const policy = fieldError(error, 'newPassword');
      if (errorReason(error) === 'invalid_credentials') {
        setErrors({ current: 'That isn’t your current password.' });
      } else if (policy) {
        setErrors({ next: policy });
      } else {
        setMessage({
          tone: 'error',
          text:
            wait !== null
              ? `Too many attempts. Wait ${formatWait(wait)} and try again.`
              : genericMessage(error),
        });
      }
    }
  }

  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));

  return (
    <section id={CHANGE_PASSWORD} className="card card--padded" aria-labelledby={titleId}>
      <h2 id={titleId} className="card__title card__title--flush">
        Change password
      </h2>
      <p>Changing your password signs out every other device where you are signed in.</p>
      <Alert tone={message?.tone ?? 'success'}>{message?.text}</Alert>
      <form className="form form--narrow" onSubmit={onSubmit} noValidate aria-busy={change.isPending}>
        <Field
          ref={currentRef}
          label="Current password"
          type="password"
          autoComplete="current-password"
          value={form.current}
          onChange={set('current')}
          error={errors.current}
        />
        <Field
          label="New password"
          type="password"
          autoComplete="new-password"
          hint={`At least ${MIN_PASSWORD_LENGTH} characters. A few unrelated words make a strong, memorable password.`}
          value={form.next}
          onChange={set('next')}
          error={errors.next}
        />
        <Field
          label="Confirm new password"
          type="password"
          autoComplete="new-password"
          value={form.confirm}
          onChange={set('confirm')}
          error={errors.confirm}
        />
        <button type="submit" className="button button--primary" disabled={change.isPending}>
          {change.isPending ? 'Changing…' : 'Change password'}
        </button>
      </form>
    </section>
  );
}

/** "JBSW Y3DP EHPK 3PXP": easier to type from a screen. */
const groupSecret = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

function TwoStep() {
  const trpc = useTRPC();
  const services = useServices();
  const queryClient = useQueryClient();
  const fresh = useFresh();
  const titleId = useId();
  const me = useQuery(meQueryOptions(services.clients.trpc, services.tracker));
  const begin = useMutation(trpc.mfa.beginEnrollment.mutationOptions());
  const confirm = useMutation(trpc.mfa.confirmEnrollment.mutationOptions());
  const disable = useMutation(trpc.mfa.disable.mutationOptions());
  const [enrollment, setEnrollment] = useState<{ secret: string; otpauthUrl: string } | null>(null);
  const [disabling, setDisabling] = useState(false);
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const [message, setMessage] = useState<{ tone: 'success' | 'error'; text: string } | null>(null);
  const enabled = me.data?.user.mfaEnabled ?? false;

  const reset = () => {
    setEnrollment(null);
    setDisabling(false);
    setCode('');
    setCodeError(null);
  };
  const refreshMe = () => queryClient.invalidateQueries(trpc.auth.me.pathFilter());
  const codeProblem = (error: unknown) =>
    errorReason(error) === 'invalid_code'
      ? 'That code didn’t work. Check that your phone’s clock is right and enter the newest code.'
      : (retryAfterSeconds(error) ?? null) !== null
        ? `Too many attempts. Wait ${formatWait(retryAfterSeconds(error)!)} and try again.`
        : genericMessage(error);

  async function start() {
    setMessage(null);
    try {
      setEnrollment(await fresh(() => begin.mutateAsync(), 'turn on two-step verification'));
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      if (errorCode(error) === 'CONFLICT') await refreshMe();
      setMessage({ tone: 'error', text: genericMessage(error) });
    }
  }

  async function onConfirm(event: FormEvent) {
    event.preventDefault();
    if (!/^\d{6}$/.test(code)) return setCodeError('Enter the 6-digit code from your authenticator app.');
    try {
      await fresh(() => confirm.mutateAsync({ code }), 'turn on two-step verification');
      reset();
      setMessage({
        tone: 'success',
        text: 'Two-step verification is on. You’ll enter a code from your app each time you sign in.',
      });
      await refreshMe();
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      setCode('');
      if (errorCode(error) === 'PRECONDITION_FAILED') {
        reset();
        setMessage({ tone: 'error', text: 'The setup expired. Please start again.' });
      } else setCodeError(codeProblem(error));
    }
  }

  async function onDisable(event: FormEvent) {
    event.preventDefault();
    if (!/^\d{6}$/.test(code)) return setCodeError('Enter the 6-digit code from your authenticator app.');
    try {
      await fresh(() => disable.mutateAsync({ code }), 'turn off two-step verification');
      reset();
      setMessage({ tone: 'success', text: 'Two-step verification is off.' });
      await refreshMe();
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      setCode('');
      setCodeError(codeProblem(error));
    }
  }

  const codeField = (
    <Field
      label="6-digit code"
      name="code"
      className="field--code"
      inputMode="numeric"
      autoComplete="one-time-code"
      maxLength={6}
      value={code}
      onChange={(e) => setCode(e.target.value.replace(/\D/g, '').slice(0, 6))}
      error={codeError}
    />
  );

  return (
    <section className="card card--padded" aria-labelledby={titleId}>
      <div className="card__heading-row">
        <h2 id={titleId} className="card__title card__title--flush">
          Two-step verification
        </h2>
        <span className={enabled ? 'badge badge--on' : 'badge badge--off'}>{enabled ? 'On' : 'Off'}</span>
      </div>
      <p>
        {enabled
          ? 'When you sign in, you enter a code from your authenticator app after your password.'
          : 'Add a second step to sign-in: a code from an authenticator app on your phone. Someone who learns your password still can’t get in.'}
      </p>
      <Alert tone={message?.tone ?? 'success'}>{message?.text}</Alert>

      {enrollment ? (
        <div className="enroll">
          <ol className="enroll__steps">
            <li>
              <p>Scan this QR code with your authenticator app.</p>
              <div className="enroll__qr">
                <Suspense fallback={<div className="qr qr--loading" aria-hidden="true" />}>
                  <QrCode value={enrollment.otpauthUrl} label="QR code for your authenticator app" />
                </Suspense>
              </div>
              <p className="enroll__manual">
                Can’t scan it? Enter this key instead:
                <code className="secret">{groupSecret(enrollment.secret)}</code>
              </p>
            </li>
            <li>
              <form className="form form--narrow" onSubmit={onConfirm} noValidate>
                <p>Enter the 6-digit code the app shows.</p>
                {codeField}
                <div className="form__actions">
                  <button type="button" className="button button--ghost" onClick={reset}>
                    Cancel
                  </button>
                  <button type="submit" className="button button--primary" disabled={confirm.isPending}>
                    {confirm.isPending ? 'Checking…' : 'Turn on'}
                  </button>
                </div>
              </form>
            </li>
          </ol>
        </div>
      ) : disabling ? (
        <form className="form form--narrow" onSubmit={onDisable} noValidate>
          <p>Enter a code from your authenticator app to turn two-step verification off.</p>
          {codeField}
          <div className="form__actions">
            <button type="button" className="button button--ghost" onClick={reset}>
              Cancel
            </button>
            <button type="submit" className="button button--danger" disabled={disable.isPending}>
              Turn off
            </button>
          </div>
        </form>
      ) : enabled ? (
        <button
          type="button"
          className="button button--secondary"
          onClick={() => {
            setMessage(null);
            setDisabling(true);
          }}
        >
          Turn off two-step verification
        </button>
      ) : (
        <button type="button" className="button button--primary" onClick={start} disabled={begin.isPending}>
          Turn on two-step verification
        </button>
      )}
    </section>
  );
}
