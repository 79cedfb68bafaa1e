/**
 * A QR code drawn locally as SVG (uqr, ~5 KB, loaded only on the enrollment screen): the TOTP secret
 * inside the otpauth:// URL never leaves this page for an image service. One path with one square per
 * dark module, so the CSP needs no inline styles.
 */
import { encode } from 'uqr';

export function QrCode({ value, label }: { value: string; label: string }) {
  const { data, size } = encode(value, { ecc: 'M', border: 2 });
  let d = '';
  data.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    });
  });
  return (
    <svg
      className="qr"
      viewBox={`0 0 ${size} ${size}`}
      role="img"
      aria-label={label}
      shapeRendering="crispEdges"
    >
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#0b1b33" />
    </svg>
  );
}

export default QrCode;
