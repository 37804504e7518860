import { createContext, useContext } from 'react';

export interface StaffSummary {
  id: string;
  username: string;
  role: string;
  type: string;
}

export interface SessionInfo {
  agency_id: string;
  staff: StaffSummary;
  permissions: string[];
  mfa_enrolled: boolean;
  required_action: 'change_password' | 'enrol_mfa' | null;
  csrf_token?: string;
}

export const SessionContext = createContext<{ session: SessionInfo; logout: () => void } | null>(null);

export function useSession() {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}

export const can = (s: SessionInfo, permission: string) => s.permissions.includes(permission);

export const roles: [string, string][] = [
  ['org_admin', 'Organisation administrator'],
  ['admin', 'Administrator'],
  ['biller', 'Biller'],
  ['therapist', 'Therapist'],
  ['scheduler', 'Scheduler'],
];
export const staffTypes: [string, string][] = [
  ['therapy_counseling', 'Therapy / counseling'],
  ['administration', 'Administration'],
  ['administration_time_tracking', 'Administration (time tracking)'],
];

/** Whether this session may manage `target` at all (the server's rule: an org_admin anyone, an
 *  admin anyone but an org_admin, nobody else anyone); each action still needs its permission. */
export const mayManage = (s: SessionInfo, target: { role: string }) =>
  s.staff.role === 'org_admin' || (s.staff.role === 'admin' && target.role !== 'org_admin');
