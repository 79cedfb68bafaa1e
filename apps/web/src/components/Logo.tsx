export function Logo({ compact = false }: { compact?: boolean }) {
  return (
    <span className="logo">
      <svg className="logo__mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
        <rect width="32" height="32" rx="7" fill="currentColor" />
        <path fill="#fff" d="M9 9h6v6H9zm8 0h6v6h-6zm-8 8h6v6H9z" />
        <path fill="#9fc0ff" d="M17 17h6v6h-6z" />
      </svg>
      {compact ? (
        <span className="visually-hidden">Tessera</span>
      ) : (
        <span className="logo__name">Tessera</span>
      )}
    </span>
  );
}
