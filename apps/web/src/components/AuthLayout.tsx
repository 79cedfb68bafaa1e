import type { ReactNode } from 'react';
import { Logo } from './Logo';

/** The centred card every signed-out screen sits in. */
export function AuthLayout({ children, wide = false }: { children: ReactNode; wide?: boolean }) {
  return (
    <div className="auth-page">
      <header className="auth-page__brand">
        <Logo />
      </header>
      <main className={wide ? 'auth-card auth-card--wide' : 'auth-card'}>{children}</main>
      <footer className="auth-page__footer">
        <p>
          Tessera never asks for your password by email or phone. Sign out when you use a shared computer.
        </p>
      </footer>
    </div>
  );
}
