import { describe, expect, it } from 'vitest';
import { portalAccountStatus, type PortalAccount } from './portalAccount';

const account: PortalAccount = {
  id: 'a1',
  client_id: 'c1',
  username: 'rosadiaz',
  created_at: '2024-05-01T10:00:00Z',
  last_login_at: '2024-05-02T10:00:00Z',
  locked: false,
  locked_until: null,
  failed_logins: 0,
  require_password_change: false,
};
const now = new Date('2024-05-03T12:00:00Z');
const when = (iso: string) => iso;

describe('portalAccountStatus', () => {
  it('says an ordinary account is active', () => {
    expect(portalAccountStatus(account, now, when)).toBe('Active');
  });
  it('says the client still has to choose their own password after a temporary one', () => {
    expect(portalAccountStatus({ ...account, require_password_change: true }, now, when)).toBe(
      'Has a temporary password: the client chooses their own at the next login.',
    );
  });
  it('names a lock with its end, or says an administrator must unlock it', () => {
    expect(portalAccountStatus({ ...account, locked: true, failed_logins: 5, locked_until: '2024-05-03T12:30:00Z' }, now, when)).toBe(
      'Locked after 5 wrong passwords until 2024-05-03T12:30:00Z.',
    );
    expect(portalAccountStatus({ ...account, locked: true, failed_logins: 5 }, now, when)).toBe('Locked after 5 wrong passwords until an administrator unlocks it.');
  });
  it('treats a lock whose time has passed as gone', () => {
    expect(portalAccountStatus({ ...account, locked: true, failed_logins: 5, locked_until: '2024-05-03T11:30:00Z' }, now, when)).toBe('Active');
  });
});
