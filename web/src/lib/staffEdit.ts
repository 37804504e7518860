// What saving a staff member's access sends: one PUT per part that changed, in the order the
// routes expect (role before type, so a refused role change leaves the rest unsent).

export interface StaffEditable {
  role: string;
  type: string;
  location_ids: string[];
  program_ids: string[];
  permissions: { client_portal: boolean; messaging: boolean };
}

export interface StaffChange {
  route: 'role' | 'type' | 'locations' | 'programs' | 'permissions';
  body: Record<string, unknown>;
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

export function staffChanges(before: StaffEditable, after: StaffEditable): StaffChange[] {
  const out: StaffChange[] = [];
  if (after.role !== before.role) out.push({ route: 'role', body: { role: after.role } });
  if (after.type !== before.type) out.push({ route: 'type', body: { type: after.type } });
  if (!sameSet(before.location_ids, after.location_ids)) out.push({ route: 'locations', body: { location_ids: after.location_ids } });
  if (!sameSet(before.program_ids, after.program_ids)) out.push({ route: 'programs', body: { program_ids: after.program_ids } });
  const modules: Record<string, boolean> = {};
  for (const k of ['client_portal', 'messaging'] as const) if (after.permissions[k] !== before.permissions[k]) modules[k] = after.permissions[k];
  if (Object.keys(modules).length) out.push({ route: 'permissions', body: modules });
  return out;
}
