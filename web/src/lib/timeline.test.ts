import { describe, expect, it } from 'vitest';
import { describeEvent, timeline, type HistoryEvent } from './timeline';

let n = 0;
const ev = (event_type: string, data: Record<string, unknown>, occurred_at: string, actor_id = 'admin-id'): HistoryEvent => ({
  event_type,
  event_id: `e${++n}`,
  sequence: n,
  occurred_at,
  actor_id,
  data,
});
const names: Record<string, string> = { 'admin-id': 'Dana Admin', 'todd-id': 'Todd Jones' };
const nameOf = (id: string) => names[id];

describe('describeEvent', () => {
  it('says what changed in words', () => {
    expect(describeEvent(ev('RoleAssigned', { role: 'scheduler' }, 't'))).toBe('Role set to scheduler');
    expect(describeEvent(ev('StaffTypeSet', { type: 'administration' }, 't'))).toBe('Type set to administration');
    expect(describeEvent(ev('StaffLocationsSet', { location_ids: ['a', 'b'] }, 't'))).toBe('Locations set (2 locations)');
    expect(describeEvent(ev('ModulePermissionGranted', { permission: 'client_portal' }, 't'))).toBe('Given the client portal module');
    expect(describeEvent(ev('StaffDeactivated', { reason: 'left the agency' }, 't'))).toBe('Deactivated (reason: left the agency)');
    expect(describeEvent(ev('StaffDeactivated', { reason: '' }, 't'))).toBe('Deactivated');
    expect(describeEvent(ev('SessionEnded', { reason: 'password_changed' }, 't'))).toBe('A session ended (reason: password changed)');
    expect(describeEvent(ev('StaffAssignedToClient', { staff_id: 'gone-id' }, 't'), nameOf)).toBe('someone assigned');
    expect(describeEvent(ev('AccountLocked', { failures: 5 }, 't'))).toBe('Locked after 5 failed logins');
    expect(describeEvent(ev('StaffAssignedToClient', { staff_id: 'todd-id' }, 't'), nameOf)).toBe('Todd Jones assigned');
    expect(describeEvent(ev('PasswordChanged', { require_change_next_logon: true }, 't'))).toContain('temporary password');
    expect(describeEvent(ev('PortalPasswordChanged', { require_change_next_logon: true, reason: 'temporary', note: 'lost the password' }, 't')))
      .toBe('Given a temporary portal password (reason: lost the password)');
    expect(describeEvent(ev('PortalPasswordChanged', { require_change_next_logon: false, reason: 'changed', note: '' }, 't'))).toBe('Chose a new portal password');
    expect(describeEvent(ev('PortalPasswordChanged', { require_change_next_logon: false, reason: 'reset', note: '' }, 't'))).toBe('Set a new portal password with a reset link');
    expect(describeEvent(ev('PortalPasswordResetRequested', { portal_account_id: 'a', expires_at: 't' }, 't'))).toBe('Asked for a portal password reset link');
    expect(describeEvent(ev('PortalSessionEnded', { reason: 'logout' }, 't'))).toBe('Logged out of the portal');
    expect(describeEvent(ev('PortalSessionEnded', { reason: 'password_changed' }, 't'))).toBe('A portal session ended (reason: password changed)');
  });
  it('turns an event type it does not know into words rather than dropping it', () => {
    expect(describeEvent(ev('SomethingNewHappened', {}, 't'))).toBe('Something New Happened');
  });
  it('leaves out a session merely being used', () => {
    expect(describeEvent(ev('SessionTouched', { session_id: 's' }, 't'))).toBeUndefined();
  });
});

describe('timeline', () => {
  it('lists newest first, names who acted unless it was the person themself', () => {
    const t = timeline(
      [
        ev('StaffCreated', { first_name: 'Todd', last_name: 'Jones', username: 'tjones', role: 'therapist' }, '2026-01-01T10:00:00Z'),
        ev('SessionTouched', {}, '2026-01-02T10:00:00Z', 'todd-id'),
        ev('PasswordChanged', {}, '2026-01-02T11:00:00Z', 'todd-id'),
        ev('AccountUnlocked', { by: 'admin-id' }, '2026-01-03T09:00:00Z'),
      ],
      nameOf,
      'todd-id',
    );
    expect(t.map((e) => e.text)).toEqual(['Unlocked', 'Password changed', 'Added as Todd Jones (tjones), therapist']);
    expect(t.map((e) => e.by)).toEqual(['Dana Admin', undefined, 'Dana Admin']);
  });
  it('names no actor it does not know', () => {
    expect(timeline([ev('LoginFailed', {}, '2026-01-01T10:00:00Z', 'unknown-id')], nameOf)[0].by).toBeUndefined();
  });
  it('does not name the actor twice', () => {
    const t = timeline([ev('StaffAssignedToClient', { staff_id: 'admin-id' }, '2026-01-01T10:00:00Z')], nameOf);
    expect(t).toEqual([{ id: expect.any(String), when: '2026-01-01T10:00:00Z', text: 'Dana Admin assigned', by: undefined }]);
  });
});
