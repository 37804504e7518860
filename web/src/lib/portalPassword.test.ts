import { describe, expect, it } from 'vitest';
import { mustChoosePassword, repeatProblem, resetRequest } from './portalPassword';

describe('mustChoosePassword', () => {
  it('holds only when the server says a temporary password is set', () => {
    expect(mustChoosePassword({ require_password_change: true })).toBe(true);
    expect(mustChoosePassword({ require_password_change: false })).toBe(false);
    // an older answer without the flag is an ordinary session
    expect(mustChoosePassword({})).toBe(false);
    expect(mustChoosePassword(null)).toBe(false);
  });
});

describe('repeatProblem', () => {
  it('says so when the repeated password differs, in the words shown beside the field', () => {
    expect(repeatProblem('Rosa-New-Pass-8!', 'Rosa-New-Pass-9!')).toBe('The two new passwords differ.');
    expect(repeatProblem('Rosa-New-Pass-8!', 'Rosa-New-Pass-8!')).toBeUndefined();
  });
  it('leaves the policy to the server: equal short passwords pass here', () => {
    expect(repeatProblem('short', 'short')).toBeUndefined();
  });
});

describe('resetRequest', () => {
  it('sends the agency code and username trimmed', () => {
    expect(resetRequest(' demo ', ' rosadiaz\t')).toEqual({ body: { agency: 'demo', username: 'rosadiaz' } });
  });
  it('asks for what is missing, field by field, and sends nothing', () => {
    expect(resetRequest('demo', '  ')).toEqual({ missing: { username: 'Enter the username you chose when you registered.' } });
    expect(resetRequest('', '')).toEqual({
      missing: { agency: 'Enter the agency code from your invitation e-mail.', username: 'Enter the username you chose when you registered.' },
    });
  });
});
