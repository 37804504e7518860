import { describe, expect, it } from 'vitest';
import { portalUsernameProblem } from './portalUsername';

describe('portalUsernameProblem', () => {
  it('refuses e-mail shaped names in the words the page shows', () => {
    expect(portalUsernameProblem('rosa@example.org')).toBe('A username cannot be an e-mail address. Choose a name without "@".');
  });
  it('checks the shape the server accepts', () => {
    expect(portalUsernameProblem('ro')).toBe('At least 3 characters.');
    expect(portalUsernameProblem('.rosa')).toBe('Start with a letter or digit.');
    expect(portalUsernameProblem('rosa diaz')).toBe("Use only letters, digits, '.', '_' and '-'.");
    expect(portalUsernameProblem('rosa.diaz-90')).toBeUndefined();
    expect(portalUsernameProblem('')).toBeUndefined();
  });
});
