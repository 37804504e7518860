// The staff username rule as the console previews it: the server answers what the rule gives
// (GET /v1/username-preview); this turns that answer into the sentence the form shows.

export interface UsernamePreview {
  username: string | null;
  base: string | null;
  base_taken: boolean;
  with_middle: string | null;
  with_middle_taken: boolean;
  reason: string | null;
}

export interface PreviewText {
  /** The username that will be given, or null. */
  username: string | null;
  /** One sentence for the person adding staff. */
  message: string;
  /** Whether a (different) middle name would help. */
  offerMiddle: boolean;
}

export function describePreview(p: UsernamePreview): PreviewText {
  if (p.username && p.username === p.base) {
    return { username: p.username, message: `The username will be ${p.username}.`, offerMiddle: false };
  }
  if (p.username) {
    return {
      username: p.username,
      message: `${p.base} is already taken, so the middle initial is used: the username will be ${p.username}.`,
      offerMiddle: false,
    };
  }
  if (!p.base) {
    return {
      username: null,
      message: 'Enter a first and last name with at least one Latin letter or digit each; the username is made from them.',
      offerMiddle: false,
    };
  }
  if (!p.with_middle) {
    return {
      username: null,
      message: `${p.base} is already taken. Add a middle name: its initial makes the username unique.`,
      offerMiddle: true,
    };
  }
  return {
    username: null,
    message: `${p.base} and ${p.with_middle} are both taken. Try a different middle name.`,
    offerMiddle: true,
  };
}

/** Whether names are worth asking the server about yet. */
export function readyToPreview(first: string, last: string): boolean {
  return first.trim().length > 0 && last.trim().length > 0;
}
