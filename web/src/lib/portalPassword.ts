// The portal's password screens as the page decides them before the server is asked: whether a
// session must first choose its own password (an administrator gave a temporary one) and the
// repeated new password. The server checks the password policy; its problem body's words show
// beside the fields.

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
