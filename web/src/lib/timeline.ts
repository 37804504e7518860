// A person's history (GET /v1/staff/{id}/history, /v1/clients/{id}/history) as sentences a
// clinician or administrator reads: one line per event, newest first, without the noise of
// sessions merely being used.

export interface HistoryEvent {
  event_type: string;
  event_id: string;
  sequence: number;
  occurred_at: string;
  actor_id: string;
  data: Record<string, unknown>;
}

export interface TimelineEntry {
  id: string;
  when: string;
  text: string;
  by?: string;
}

const roleWords: Record<string, string> = {
  org_admin: 'organisation administrator',
  admin: 'administrator',
  biller: 'biller',
  therapist: 'therapist',
  scheduler: 'scheduler',
};
const typeWords: Record<string, string> = {
  therapy_counseling: 'therapy / counseling',
  administration: 'administration',
  administration_time_tracking: 'administration (time tracking)',
};
const moduleWords: Record<string, string> = { client_portal: 'client portal', messaging: 'messaging' };

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const list = (v: unknown) => (Array.isArray(v) ? v.length : 0);
const withReason = (text: string, reason: unknown) => (str(reason) ? `${text} (reason: ${str(reason).replace(/_/g, ' ')})` : text);
const count = (n: number, one: string, many: string) => (n === 0 ? `no ${many}` : n === 1 ? `1 ${one}` : `${n} ${many}`);

/** Who an id is, or undefined when the page does not know (a login's actor, a former member). */
export type NameOf = (id: string) => string | undefined;

/** What one event means, in words; undefined for events a timeline leaves out. */
export function describeEvent(e: HistoryEvent, names: NameOf = () => undefined): string | undefined {
  const d = e.data ?? {};
  const nameOf = (id: string) => names(id) ?? 'someone';
  switch (e.event_type) {
    case 'StaffCreated':
      return `Added as ${str(d.first_name)} ${str(d.last_name)} (${str(d.username)}), ${roleWords[str(d.role)] ?? str(d.role)}`;
    case 'StaffProfileUpdated':
      return `Profile changed: ${Object.keys(d).map((k) => k.replace(/_/g, ' ')).join(', ')}`;
    case 'RoleAssigned':
      return `Role set to ${roleWords[str(d.role)] ?? str(d.role)}`;
    case 'StaffTypeSet':
      return `Type set to ${typeWords[str(d.type)] ?? str(d.type)}`;
    case 'StaffLocationsSet':
      return `Locations set (${count(list(d.location_ids), 'location', 'locations')})`;
    case 'StaffProgramsSet':
      return `Programs set (${count(list(d.program_ids), 'program', 'programs')})`;
    case 'ModulePermissionGranted':
      return `Given the ${moduleWords[str(d.permission)] ?? str(d.permission)} module`;
    case 'ModulePermissionRevoked':
      return `The ${moduleWords[str(d.permission)] ?? str(d.permission)} module taken away`;
    case 'StaffDeactivated':
      return withReason('Deactivated', d.reason);
    case 'PasswordChanged':
      return d.require_change_next_logon ? 'Given a temporary password (to be changed at the next login)' : 'Password changed';
    case 'PasswordResetRequested':
      return 'Asked for a password reset link';
    case 'LoginSucceeded':
      return d.mfa ? 'Logged in with an authenticator code' : 'Logged in';
    case 'LoginFailed':
      return 'A login failed';
    case 'AccountLocked':
      return `Locked after ${Number(d.failures) || 'several'} failed logins`;
    case 'AccountUnlocked':
      return 'Unlocked';
    case 'MfaEnrolled':
      return 'Started setting up an authenticator';
    case 'MfaConfirmed':
      return 'Authenticator set up';
    case 'MfaReset':
      return 'Authenticator removed (set up again at the next login)';
    case 'SessionEnded':
      return withReason('A session ended', d.reason);
    case 'SessionTouched':
    case 'PortalLoginSucceeded':
      return e.event_type === 'PortalLoginSucceeded' ? 'Logged in to the portal' : undefined;
    case 'ClientAdded':
      return `Added as ${str(d.first_name)} ${str(d.last_name)}, born ${str(d.date_of_birth)}`;
    case 'StaffAssignedToClient':
      return `${nameOf(str(d.staff_id))} assigned`;
    case 'StaffUnassignedFromClient':
      return `${nameOf(str(d.staff_id))} unassigned`;
    case 'InvitationSent':
      return `Invited to the portal at ${str(d.email)}`;
    case 'InvitationResent':
      return 'Portal invitation sent again';
    case 'InvitationRevoked':
      return 'Portal invitation revoked';
    case 'InvitationAccepted':
      return 'Accepted the portal invitation';
    case 'PortalUsernameChosen':
      return `Chose the portal username ${str(d.username)}`;
    case 'PortalLoginFailed':
      return 'A portal login failed';
    case 'PortalAccountLocked':
      return 'Portal account locked after failed logins';
    case 'PortalAccountUnlocked':
      return 'Portal account unlocked';
    case 'PortalSessionEnded':
      return !str(d.reason) || d.reason === 'logout' ? 'Logged out of the portal' : withReason('A portal session ended', d.reason);
    case 'PortalPasswordChanged':
      if (d.require_change_next_logon) return withReason('Given a temporary portal password', d.note);
      return d.reason === 'reset' ? 'Set a new portal password with a reset link' : 'Chose a new portal password';
    case 'PortalPasswordResetRequested':
      return 'Asked for a portal password reset link';
    case 'MessageSent':
      return d.sender_kind === 'client' ? `Wrote a message to ${nameOf(str(d.staff_id))}` : `${nameOf(str(d.sender_id))} wrote a message`;
    case 'KioskSessionStarted':
      return `Kiosk session started by ${nameOf(str(d.started_by))}${str(d.form_id) ? ` for form ${str(d.form_id)}` : ''}`;
    case 'KioskFormSubmitted':
      return 'Filled in the kiosk form';
    default:
      return e.event_type.replace(/([a-z])([A-Z])/g, '$1 $2');
  }
}

/** The timeline of a history: newest first, events it leaves out dropped, who did it named
 *  unless it was the person themself (`self`) or the sentence names them already. */
export function timeline(events: HistoryEvent[], nameOf: NameOf = () => undefined, self?: string): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const e of events) {
    const text = describeEvent(e, nameOf);
    if (text === undefined) continue;
    const actor = e.actor_id && e.actor_id !== self ? nameOf(e.actor_id) : undefined;
    // "Dana Admin assigned", not "Dana Admin assigned · by Dana Admin"
    out.push({ id: e.event_id, when: e.occurred_at, text, by: actor && !text.includes(actor) ? actor : undefined });
  }
  return out.sort((a, b) => (a.when < b.when ? 1 : a.when > b.when ? -1 : 0));
}
