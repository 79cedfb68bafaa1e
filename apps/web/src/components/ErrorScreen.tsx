import { genericMessage } from '../lib/errors';
import { useFocusOnMount } from './hooks';
import { Logo } from './Logo';

/** What a route shows when loading it failed (server unreachable, 503...). */
export function ErrorScreen({ error, reset }: { error: unknown; reset?: () => void }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  return (
    <main className="auth-page">
      <div className="auth-card">
        <Logo />
        <h1 ref={heading} tabIndex={-1} className="auth-card__title">
          We can’t load this page
        </h1>
        <p role="alert">{genericMessage(error)}</p>
        <button
          type="button"
          className="button button--primary button--block"
          onClick={() => (reset ? reset() : window.location.reload())}
        >
          Try again
        </button>
      </div>
    </main>
  );
}
