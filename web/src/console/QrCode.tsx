import { useMemo } from 'react';
import { qrPath, quietZone } from '../lib/qr';

/** `text` as a QR code an authenticator app scans, drawn as SVG. */
export function QrCode({ text, label }: { text: string; label: string }) {
  const p = useMemo(() => qrPath(text), [text]);
  const side = p.size + 2 * quietZone;
  return (
    <svg className="qr" role="img" aria-label={label} viewBox={`0 0 ${side} ${side}`} width={side * 5} height={side * 5} shapeRendering="crispEdges" data-testid="mfa-qr">
      <rect width={side} height={side} fill="#fff" />
      <path d={p.d} fill="#000" />
    </svg>
  );
}
