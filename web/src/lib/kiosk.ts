// The kiosk link: /kiosk#<token>. The token travels in the fragment, which browsers never send to
// a server (nor in a Referer), so it reaches only the page's script.

/** The kiosk token in a URL fragment ("#token" or "#token=<token>"), or "" when there is none. */
export function kioskTokenFrom(hash: string): string {
  let t = hash.startsWith('#') ? hash.slice(1) : hash;
  if (t.startsWith('token=')) t = t.slice('token='.length);
  try {
    t = decodeURIComponent(t);
  } catch {
    return '';
  }
  // an agency token: <agency uuid>.<random url-safe text>
  return /^[0-9a-f-]{36}\.[A-Za-z0-9_-]+$/.test(t) ? t : '';
}

/** The link that opens the kiosk page of `token` on any device. */
export function kioskLink(origin: string, token: string): string {
  return `${origin}/kiosk#${encodeURIComponent(token)}`;
}
