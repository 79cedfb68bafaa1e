import { type ReactNode, useId } from 'react';
import { Dialog } from './Dialog';

/**
 * "Are you sure?" before an action that is hard to undo. Focus starts on Cancel (the harmless
 * answer), Escape cancels; the action runs after the dialog has closed, so a password prompt it
 * may need (Reauth) opens on its own.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  tone = 'danger',
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  tone?: 'danger' | 'primary';
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const titleId = useId();
  const descriptionId = useId();
  return (
    <Dialog open={open} onCancel={onCancel} titleId={titleId} descriptionId={descriptionId}>
      <h2 id={titleId} className="dialog__title">
        {title}
      </h2>
      <div id={descriptionId} className="dialog__text">
        {children}
      </div>
      <div className="dialog__actions">
        <button type="button" className="button button--ghost" onClick={onCancel} data-autofocus>
          Cancel
        </button>
        <button
          type="button"
          className={tone === 'danger' ? 'button button--danger-solid' : 'button button--primary'}
          onClick={onConfirm}
        >
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
