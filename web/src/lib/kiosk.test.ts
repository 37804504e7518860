import { describe, expect, it } from 'vitest';
import { kioskLink, kioskTokenFrom } from './kiosk';

const token = '3f1c2a4e-1b2c-5d6e-8f90-a1b2c3d4e5f6.Zm9vYmFyX2Jhei1xdXV4LTEyMzQ1Njc4OTA';

describe('kiosk link', () => {
  it('carries the token in the fragment and gives it back', () => {
    const link = kioskLink('https://care.example', token);
    expect(link).toBe(`https://care.example/kiosk#${token}`);
    expect(kioskTokenFrom(new URL(link).hash)).toBe(token);
    expect(kioskTokenFrom(`#token=${token}`)).toBe(token);
  });
  it('takes nothing that is not an agency token', () => {
    expect(kioskTokenFrom('')).toBe('');
    expect(kioskTokenFrom('#')).toBe('');
    expect(kioskTokenFrom('#not-a-token')).toBe('');
    expect(kioskTokenFrom('#%E0%A4%A')).toBe('');
    expect(kioskTokenFrom(`#${token}<script>`)).toBe('');
  });
});
