import { useMutation } from '@tanstack/react-query';
import {
  createContext,
  type FormEvent,
  type ReactNode,
  useCallback,
  useContext,
  useId,
  useState,
} from 'react';
import { errorCode, errorReason, genericMessage, retryAfterSeconds } from '../lib/errors';
import { formatWait } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { Alert } from './Alert';
import { Dialog } from './Dialog';
import { Field } from './Field';

/** The person closed the password prompt: the action didn't happen, and that is not an error. */
export class ReauthCancelled extends Error {
  constructor() {
    super('Re-authentication cancelled');
    this.name = 'ReauthCancelled';
  }
}

export const needsReauth = (error: unknown) =>
  errorCode(error) === 'FORBIDDEN' && errorReason(error) === 'reauthentication_required';

/** Runs a sensitive action; when the server wants the password again, asks for it and retries once. */
export type RunFresh = <T>(action: () => Promise<T>, purpose: string) => Promise<T>;

const FreshContext = createContext<RunFresh | null>(null);

export function useFresh(): RunFresh {
  const run = useContext(FreshContext);
  if (!run) throw new Error('useFresh outside <ReauthProvider>');
  return run;
}

interface Pending {
  purpose: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function ReauthProvider({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<Pending | null>(null);

  const run = useCallback<RunFresh>(async (action, purpose) => {
    try {
      return await action();
    } catch (error) {
      if (!needsReauth(error)) throw error;
      await new Promise<void>((resolve, reject) => setPending({ purpose, resolve, reject }));
      return await action();
    }
  }, []);

  return (
    <FreshContext.Provider value={run}>
      {children}
      <ReauthDialog
        pending={pending}
        onDone={() => {
          pending?.resolve();
          setPending(null);
        }}
        onCancel={() => {
          pending?.reject(new ReauthCancelled());
          setPending(null);
        }}
      />
    </FreshContext.Provider>
  );
}

function ReauthDialog({
  pending,
  onDone,
  onCancel,
}: {
  pending: Pending | null;
  onDone: () => void;
  onCancel: () => void;
}) {
  const trpc = useTRPC();
  const titleId = useId();
  const descriptionId = useId();
  const reauth = useMutation(trpc.auth.reauthenticate.mutationOptions());
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);

  const close = (then: () => void) => {
    setPassword('');
    setError(null);
    then();
  };

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (!password) {
      setError('Enter your password.');
      return;
    }
    try {
      await reauth.mutateAsync({ password });
      close(onDone);
    } catch (err) {
      const wait = retryAfterSeconds(err);
      setPassword('');
      setError(
        wait !== null
          ? `Too many attempts. Wait ${formatWait(wait)} and try again.`
          : errorReason(err) === 'invalid_credentials'
            ? 'That password is incorrect.'
            : genericMessage(err),
      );
    }
  }

  return (
    <Dialog
      open={pending !== null}
      onCancel={() => close(onCancel)}
      titleId={titleId}
      descriptionId={descriptionId}
    >
      <form onSubmit={onSubmit} noValidate className="form">
        <h2 id={titleId} className="dialog__title">
          Confirm it’s you
        </h2>
        <p id={descriptionId}>
          To {pending?.purpose ?? 'continue'}, enter your password again. You won’t be asked again for a few
          minutes.
        </p>
        <Alert>{error}</Alert>
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          data-autofocus
        />
        <div className="dialog__actions">
          <button type="button" className="button button--ghost" onClick={() => close(onCancel)}>
            Cancel
          </button>
          <button type="submit" className="button button--primary" disabled={reauth.isPending}>
            {reauth.isPending ? 'Checking…' : 'Confirm'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
