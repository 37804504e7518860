// A client's portal account as the console shows it to staff (GET /v1/portal/accounts/{id}): one
// sentence for its state. A lock whose time has passed no longer holds, though the read model still
// says "locked" until the next login or unlock.

export interface PortalAccount {
  id: string;
  client_id: string;
  username: string | null;
  created_at: string;
  last_login_at: string | null;
  locked: boolean;
  locked_until: string | null;
  failed_logins: number;
  require_password_change: boolean;
}

export function portalAccountStatus(a: PortalAccount, now: Date = new Date(), when = (iso: string) => new Date(iso).toLocaleString()): string {
  const failures = a.failed_logins > 0 ? `${a.failed_logins} wrong passwords` : 'wrong passwords';
  if (a.locked && a.locked_until === null) return `Locked after ${failures} until an administrator unlocks it.`;
  if (a.locked && a.locked_until && new Date(a.locked_until) > now) return `Locked after ${failures} until ${when(a.locked_until)}.`;
  if (a.require_password_change) return 'Has a temporary password: the client chooses their own at the next login.';
  return 'Active';
}
