import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const agency = process.env.CARELOG_E2E_AGENCY ?? 'demo';
export const adminUser = process.env.CARELOG_E2E_ADMIN ?? 'dadmin';
export const adminPassword = process.env.CARELOG_E2E_ADMIN_PASSWORD ?? 'Demo-Admin-Pass-1!';
const maildir = process.env.CARELOG_E2E_MAILDIR ?? '';
// ops/e2e names the folder: docs/screenshots only when asked (CARELOG_E2E_SCREENSHOTS=1).
const shots = process.env.CARELOG_E2E_SCREENSHOT_DIR ?? join(process.cwd(), 'test-results', 'screenshots');

/** No serious or critical accessibility violations on the page as it is now. */
export async function expectAccessible(page: Page) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual([]);
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

export async function staffLogin(page: Page, username: string, password: string, code?: string) {
  await page.goto('/');
  await page.getByLabel('Agency').fill(agency);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  if (code) await page.getByLabel('Authenticator code (only if you set one up)').fill(code);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Logs in to the client portal (the agency code typed in, as on a fresh device). */
export async function portalLogin(page: Page, username: string, password: string) {
  await page.goto('/portal');
  await page.getByLabel('Agency code').fill(agency);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The error shown beside the field labelled `label` (the problem body's words, or the page's). */
export const fieldAlert = (page: Page, label: string) =>
  page.locator('.field', { has: page.getByLabel(label, { exact: true }) }).getByRole('alert');

/** Logs out with the console's button and waits for the login page, so that the next login starts
 *  from a page whose session has really ended. */
export async function logOut(page: Page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Staff login' })).toBeVisible();
}

/** The link in the newest e-mail to `to` in the SMTP sink's Maildir that matches `pattern`. */
export async function linkFromMail(to: string, pattern: RegExp): Promise<string> {
  expect(maildir, 'CARELOG_E2E_MAILDIR names the SMTP sink\'s Maildir').not.toBe('');
  let found = '';
  await expect
    .poll(
      () => {
        const dir = join(maildir, 'new');
        let files: string[] = [];
        try {
          files = readdirSync(dir);
        } catch {
          return '';
        }
        for (const f of files.sort().reverse()) {
          const text = readFileSync(join(dir, f), 'utf8');
          if (!text.toLowerCase().includes(to.toLowerCase())) continue;
          const m = text.match(pattern);
          if (m) return (found = m[0]);
        }
        return '';
      },
      { timeout: 30_000, message: `an e-mail to ${to} with a link` },
    )
    .not.toBe('');
  return found;
}

/** The current RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret, as an authenticator app shows it. */
export function totp(secret: string, now = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const o = mac[mac.length - 1] & 0xf;
  const n = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

/** The CSRF token of the page's staff session, as the console's own script sends it. */
export async function csrfOf(page: Page): Promise<string> {
  return (await (await page.request.get('/v1/auth/session')).json()).csrf_token;
}

/** Logs in expecting a refusal and answers its words. A login the server's per-account rate limit
 *  turns away (429, "retry after N s") is tried again after the wait it names: it was not judged. */
export async function refusedLogin(page: Page, username: string, password: string): Promise<string> {
  for (;;) {
    await staffLogin(page, username, password);
    const alert = page.getByRole('alert');
    await expect(alert).toContainText(/do not match|too many login attempts/);
    const text = (await alert.textContent()) ?? '';
    const wait = text.match(/retry after (\d+) s/);
    if (!wait) return text;
    await page.waitForTimeout(Number(wait[1]) * 1000 + 100);
  }
}

/** `count` logins of `username` refused for a wrong password, each explained in words. */
export async function wrongPasswords(page: Page, username: string, count: number) {
  for (let i = 0; i < count; i++)
    expect(await refusedLogin(page, username, 'Wrong-Pass-1!')).toContain('After several wrong tries the account is locked');
}
