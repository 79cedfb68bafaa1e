import type { ReactNode } from 'react';

/**
 * A message region. Errors use role="alert" (announced at once); status messages use role="status"
 * (announced politely). The region stays in the DOM while empty, so that screen readers announce
 * text put into it later.
 */
export function Alert({
  tone = 'error',
  children,
  id,
}: {
  tone?: 'error' | 'success' | 'info' | 'warning';
  children?: ReactNode;
  id?: string;
}) {
  const role = tone === 'error' ? 'alert' : 'status';
  return (
    <div id={id} role={role} className={children ? `alert alert--${tone}` : 'alert alert--empty'}>
      {children}
    </div>
  );
}
