import { describe, expect, it } from 'vitest';
import { describePreview, readyToPreview } from './username';

const base = { base: 'tjones', base_taken: false, with_middle: null, with_middle_taken: false, reason: null };

describe('describePreview', () => {
  it('names the username when the first initial and last name are free', () => {
    const t = describePreview({ ...base, username: 'tjones' });
    expect(t.username).toBe('tjones');
    expect(t.message).toBe('The username will be tjones.');
    expect(t.offerMiddle).toBe(false);
  });
  it('explains the middle initial when the plain name is taken', () => {
    const t = describePreview({ ...base, username: 'tmjones', base_taken: true, with_middle: 'tmjones' });
    expect(t.username).toBe('tmjones');
    expect(t.message).toContain('tjones is already taken');
    expect(t.message).toContain('tmjones');
  });
  it('offers the middle name when the plain name is taken and none is given', () => {
    const t = describePreview({ ...base, username: null, base_taken: true, reason: 'taken' });
    expect(t.username).toBeNull();
    expect(t.offerMiddle).toBe(true);
    expect(t.message).toBe('tjones is already taken. Add a middle name: its initial makes the username unique.');
  });
  it('asks for another middle name when both are taken', () => {
    const t = describePreview({ ...base, username: null, base_taken: true, with_middle: 'tmjones', with_middle_taken: true, reason: 'x' });
    expect(t.message).toBe('tjones and tmjones are both taken. Try a different middle name.');
  });
  it('says what is missing when the names give no username', () => {
    const t = describePreview({ ...base, username: null, base: null, reason: 'x' });
    expect(t.username).toBeNull();
    expect(t.message).toMatch(/Latin letter or digit/);
  });
});

describe('readyToPreview', () => {
  it('waits for both names', () => {
    expect(readyToPreview('Todd', '')).toBe(false);
    expect(readyToPreview(' ', 'Jones')).toBe(false);
    expect(readyToPreview('Todd', 'Jones')).toBe(true);
  });
});
