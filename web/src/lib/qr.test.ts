import { describe, expect, it } from 'vitest';
import { darkAt, qrPath } from './qr';

const uri = 'otpauth://totp/carelog:dadmin?secret=JBSWY3DPEHPK3PXP&issuer=carelog&algorithm=SHA1&digits=6&period=30';

describe('qrPath', () => {
  it('draws a square code with the three finder patterns in their corners', () => {
    const p = qrPath(uri);
    expect(p.size).toBeGreaterThanOrEqual(21);
    expect((p.size - 17) % 4).toBe(0); // a QR version's side is 17 + 4 × version
    for (const [ox, oy] of [[0, 0], [p.size - 7, 0], [0, p.size - 7]]) {
      // the finder's dark outer ring, light inner ring and dark 3×3 centre
      for (let i = 0; i < 7; i++) {
        expect(darkAt(p, ox + i, oy)).toBe(true);
        expect(darkAt(p, ox + i, oy + 6)).toBe(true);
        expect(darkAt(p, ox, oy + i)).toBe(true);
        expect(darkAt(p, ox + 6, oy + i)).toBe(true);
      }
      expect(darkAt(p, ox + 1, oy + 1)).toBe(false);
      expect(darkAt(p, ox + 3, oy + 3)).toBe(true);
    }
    // the light separator beside the top-left finder
    expect(darkAt(p, 7, 0)).toBe(false);
  });

  it('gives different codes for different secrets and the same code for the same text', () => {
    expect(qrPath(uri).d).toBe(qrPath(uri).d);
    expect(qrPath(uri.replace('JBSWY3DPEHPK3PXP', 'KRSXG5CTMVRXEZLU')).d).not.toBe(qrPath(uri).d);
  });
});
