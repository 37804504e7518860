// The portal username's shape, checked in the page before the server sees it (the server checks
// again): 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, and never an
// e-mail address.
export function portalUsernameProblem(name: string): string | undefined {
  const n = name.trim();
  if (n === '') return undefined;
  if (n.includes('@')) return 'A username cannot be an e-mail address. Choose a name without "@".';
  if (n.length < 3) return 'At least 3 characters.';
  if (n.length > 64) return 'At most 64 characters.';
  if (!/^[A-Za-z0-9]/.test(n)) return 'Start with a letter or digit.';
  if (!/^[A-Za-z0-9._-]+$/.test(n)) return "Use only letters, digits, '.', '_' and '-'.";
  return undefined;
}
