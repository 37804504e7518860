// The portal's password screens as the page decides them before the server is asked: whether a
// session must first choose its own password (an administrator gave a temporary one), the repeated
// new password, and the "forgot your password?" request. The server checks the password policy and
// the reset link; its problem body's words show beside the fields.

/** What /v1/portal/me says of the account. */
export interface PortalAccountFlags {
  require_password_change?: boolean;
}

/** Whether the session may do nothing but choose its own password (and log out). */
export const mustChoosePassword = (account: PortalAccountFlags | undefined | null): boolean => account?.require_password_change === true;

/** The message beside "New password again", or undefined when the two agree. */
export function repeatProblem(fresh: string, again: string): string | undefined {
  return fresh === again ? undefined : 'The two new passwords differ.';
}

/** The one answer to "forgot your password?", whether or not the account exists. */
export const resetRequested = 'If that account exists, a link to choose a new password is on its way to its e-mail address.';

export type ResetRequest =
  | { body: { agency: string; username: string }; missing?: undefined }
  | { body?: undefined; missing: Partial<Record<'agency' | 'username', string>> };

/** The body of POST /v1/portal/password-reset, or what to fill in first (beside those fields). */
export function resetRequest(agency: string, username: string): ResetRequest {
  const a = agency.trim();
  const u = username.trim();
  const missing: Partial<Record<'agency' | 'username', string>> = {};
  if (!a) missing.agency = 'Enter the agency code from your invitation e-mail.';
  if (!u) missing.username = 'Enter the username you chose when you registered.';
  return a && u ? { body: { agency: a, username: u } } : { missing };
}
