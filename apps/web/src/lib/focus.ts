/**
 * TanStack Query refetches stale queries when the window regains focus. Here focus only counts once
 * the person interacts with the page again (pointer, key, wheel, touch): a window that the OS or
 * another program brings to the front, or a tab left visible on an unattended screen, must not send
 * requests that would keep an idle session alive.
 */
import { focusManager } from '@tanstack/react-query';

const ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

export function gateFocusOnActivity(target: Window = window): () => void {
  let cleanup = () => {};
  focusManager.setEventListener((setFocused) => {
    let armed = false;
    const away = () => {
      armed = true;
      setFocused(false);
    };
    const onVisibility = () => {
      if (target.document.visibilityState === 'hidden') away();
    };
    const onActivity = () => {
      if (!armed) return;
      armed = false;
      setFocused(true);
    };
    target.addEventListener('blur', away);
    target.document.addEventListener('visibilitychange', onVisibility);
    for (const type of ACTIVITY) target.addEventListener(type, onActivity, { capture: true, passive: true });
    cleanup = () => {
      target.removeEventListener('blur', away);
      target.document.removeEventListener('visibilitychange', onVisibility);
      for (const type of ACTIVITY) target.removeEventListener(type, onActivity, { capture: true });
    };
    return cleanup;
  });
  return () => cleanup();
}
