/** The kind of device a session runs on, as a simple line icon (decorative: the text says it too). */
export function DeviceIcon({ device }: { device: string | null }) {
  const kind =
    device === 'mobile' || device === 'wearable'
      ? 'phone'
      : device === 'tablet'
        ? 'tablet'
        : device
          ? 'desktop'
          : 'unknown';
  return (
    <svg
      className={`device-icon device-icon--${kind}`}
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
    >
      {kind === 'phone' ? (
        <>
          <rect
            x="7"
            y="2.5"
            width="10"
            height="19"
            rx="2"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
          />
          <path d="M10.5 18.5h3" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
        </>
      ) : kind === 'tablet' ? (
        <>
          <rect
            x="4.5"
            y="2.5"
            width="15"
            height="19"
            rx="2"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
          />
          <path d="M10.5 18.5h3" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
        </>
      ) : kind === 'desktop' ? (
        <>
          <rect
            x="2.5"
            y="4"
            width="19"
            height="12.5"
            rx="1.5"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
          />
          <path d="M8 20.5h8M12 16.5v4" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
        </>
      ) : (
        <>
          <circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <path
            d="M9.6 9.4a2.5 2.5 0 1 1 3.4 2.3c-.6.3-1 .8-1 1.5v.6M12 16.8v.2"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
            strokeLinecap="round"
          />
        </>
      )}
    </svg>
  );
}

/** "Chrome 126 on macOS 14.5", or what is known. */
export function deviceTitle(s: { browser: string | null; os: string | null }): string {
  if (s.browser && s.os) return `${s.browser} on ${s.os}`;
  return s.browser ?? s.os ?? 'Unknown device';
}

/** "Desktop", "Phone", "Tablet"... for the device kind. */
export function deviceKind(device: string | null): string {
  switch (device) {
    case 'mobile':
      return 'Phone';
    case 'tablet':
      return 'Tablet';
    case 'desktop':
      return 'Computer';
    case null:
      return 'Unknown device';
    default:
      return device.charAt(0).toUpperCase() + device.slice(1);
  }
}
