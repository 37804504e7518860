import { describe, expect, it } from 'vitest';
import { staffChanges, type StaffEditable } from './staffEdit';

const base: StaffEditable = {
  role: 'therapist',
  type: 'therapy_counseling',
  location_ids: ['l1', 'l2'],
  program_ids: [],
  permissions: { client_portal: false, messaging: true },
};

describe('staffChanges', () => {
  it('sends nothing when nothing changed, whatever the order of the lists', () => {
    expect(staffChanges(base, { ...base, location_ids: ['l2', 'l1'] })).toEqual([]);
  });
  it('sends one request per changed part, role first', () => {
    const after = { ...base, type: 'administration', role: 'scheduler', program_ids: ['p1'] };
    expect(staffChanges(base, after)).toEqual([
      { route: 'role', body: { role: 'scheduler' } },
      { route: 'type', body: { type: 'administration' } },
      { route: 'programs', body: { program_ids: ['p1'] } },
    ]);
  });
  it('sends an emptied list, and only the modules that changed', () => {
    const after = { ...base, location_ids: [], permissions: { client_portal: true, messaging: true } };
    expect(staffChanges(base, after)).toEqual([
      { route: 'locations', body: { location_ids: [] } },
      { route: 'permissions', body: { client_portal: true } },
    ]);
  });
});
