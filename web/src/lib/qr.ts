// A QR code as one SVG path, drawn from the `qrcode` package's module matrix: no canvas, no data:
// URL and no inline style, so it shows under the console's Content-Security-Policy.
import { create } from 'qrcode';

export interface QrPath {
  /** Modules per side, without the quiet zone. */
  size: number;
  /** The dark modules as an SVG path in module units, offset by the quiet zone. */
  d: string;
}

/** The quiet zone (light border) the QR standard asks for, in modules. */
export const quietZone = 4;

export function qrPath(text: string): QrPath {
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  const size = modules.size;
  let d = '';
  for (let y = 0; y < size; y++) {
    let x = 0;
    while (x < size) {
      if (!modules.get(y, x)) {
        x++;
        continue;
      }
      // one horizontal run of dark modules becomes one rectangle
      let end = x;
      while (end < size && modules.get(y, end)) end++;
      d += `M${x + quietZone} ${y + quietZone}h${end - x}v1h-${end - x}z`;
      x = end;
    }
  }
  return { size, d };
}

/** Whether module (x, y) is dark in a path made by qrPath (for tests and checks). */
export function darkAt(path: QrPath, x: number, y: number): boolean {
  const re = /M(\d+) (\d+)h(\d+)/g;
  for (let m = re.exec(path.d); m; m = re.exec(path.d)) {
    const [mx, my, w] = [Number(m[1]) - quietZone, Number(m[2]) - quietZone, Number(m[3])];
    if (my === y && x >= mx && x < mx + w) return true;
  }
  return false;
}
