import { type ReactNode, useEffect, useRef } from 'react';

export interface DialogProps {
  open: boolean;
  /** Escape, or the dialog's own cancel. */
  onCancel?: () => void;
  titleId: string;
  descriptionId?: string;
  /** `alertdialog` for a warning that needs an answer (the idle warning). */
  role?: 'dialog' | 'alertdialog';
  children: ReactNode;
}

/**
 * A modal on the native <dialog>: the browser makes the rest of the page inert, traps focus and
 * closes on Escape. Focus goes to the element marked `data-autofocus` (else the first control) and
 * back to where it was when the dialog closes.
 */
export function Dialog({ open, onCancel, titleId, descriptionId, role = 'dialog', children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const returnFocus = useRef<HTMLElement | null>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      returnFocus.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      dialog.showModal();
      const target =
        dialog.querySelector<HTMLElement>('[data-autofocus]') ??
        dialog.querySelector<HTMLElement>(
          'input, button, [href], select, textarea, [tabindex]:not([tabindex="-1"])',
        );
      target?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
      returnFocus.current?.focus();
    }
  }, [open]);

  useEffect(
    () => () => {
      if (ref.current?.open) ref.current.close();
    },
    [],
  );

  return (
    <dialog
      ref={ref}
      className="dialog"
      role={role === 'alertdialog' ? 'alertdialog' : undefined}
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={descriptionId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel?.();
      }}
    >
      {open ? <div className="dialog__body">{children}</div> : null}
    </dialog>
  );
}
