// The staff console and the client portal in a real browser against a real carelogd, broker and
// SMTP sink (ops/e2e). The tests run in order and build on each other: one agency's story.
import { expect, test } from '@playwright/test';
import { adminPassword, adminUser, agency, csrfOf, expectAccessible, fieldAlert, linkFromMail, portalLogin, screenshot, staffLogin, logOut, refusedLogin, totp, wrongPasswords } from './support';

test.describe.configure({ mode: 'serial' });

let toddPassword = '';
const toddNewPassword = 'Todd-Own-Pass-42!';
const rosaPassword = 'Rosa-Portal-Pass-7!';
let rosaTemporary = '';
const rosaOwnPassword = 'Rosa-Own-Choice-8!';
const rosaResetPassword = 'Rosa-After-Reset-9!';
const tinaPassword = 'Tina-Own-Pass-42!';
let tinaSecret = '';

test('an admin logs in, switches the portal on, adds two staff named alike and sees the username rule', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Staff login' })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, 'login');
  await staffLogin(page, adminUser, adminPassword);
  await expect(page.getByRole('heading', { name: 'Staff', exact: true })).toBeVisible();

  // agency settings: the client portal and messaging modules
  await page.getByRole('link', { name: 'Agency settings' }).click();
  await page.getByLabel('Client portal', { exact: true }).check();
  await page.getByLabel('Messaging between staff and clients').check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved.')).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, 'settings');

  await page.getByRole('link', { name: 'Staff' }).click();
  await page.getByRole('button', { name: 'Add staff' }).click();
  const form = page.getByRole('form', { name: 'Add a staff member' });
  const preview = form.getByTestId('username-preview');
  const fill = async (first: string, last: string) => {
    await form.getByLabel('First name').fill(first);
    await form.getByLabel('Last name').fill(last);
    await form.getByLabel('Gender').fill('male');
    await form.getByLabel('Position').fill('Counselor');
    await form.getByLabel('E-mail').fill(`${first.toLowerCase()}@demo.example`);
  };
  await fill('Todd', 'Jones');
  await expect(preview).toHaveText('The username will be tjones.');
  await form.getByRole('button', { name: 'Add staff member' }).click();
  await expect(form.getByRole('status')).toContainText('Added tjones');
  toddPassword = (await form.locator('code.secret').textContent()) ?? '';
  expect(toddPassword.length).toBeGreaterThan(8);

  await fill('Tina', 'Jones');
  await expect(preview).toHaveText('tjones is already taken. Add a middle name: its initial makes the username unique.');
  await expect(form.getByText('A middle name gives a unique username with its initial.')).toBeVisible();
  await form.getByLabel('Middle name').fill('Marie');
  await expect(preview).toHaveText('tjones is already taken, so the middle initial is used: the username will be tmjones.');
  await form.getByLabel('Role').selectOption('scheduler');
  await form.getByLabel('Type').selectOption('administration');
  await form.getByRole('button', { name: 'Add staff member' }).click();
  await expect(form.getByRole('status')).toContainText('Added tmjones');
  await expect(page.getByRole('cell', { name: 'tmjones' })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'tjones', exact: true })).toBeVisible();

  // the admin grants themself the portal and messaging modules
  await page.getByLabel('Client portal for Dana Admin').check();
  await page.getByLabel('Messaging for Dana Admin').check();
  await expect(page.getByLabel('Client portal for Dana Admin')).toBeChecked();
  await expect(page.getByLabel('Messaging for Dana Admin')).toBeChecked();
  await expectAccessible(page);
  await screenshot(page, 'staff');
});

test('a first login with the temporary password must choose a new one; errors show beside the field', async ({ page }) => {
  await staffLogin(page, 'tjones', toddPassword);
  await expect(page.getByRole('heading', { name: 'Choose your own password' })).toBeVisible();
  await page.getByLabel('Current (temporary) password').fill(toddPassword);
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('New password again').fill('short');
  await page.getByRole('button', { name: 'Save password' }).click();
  // the server's words, next to the field they are about
  const fieldError = page.locator('.field', { has: page.getByLabel('New password', { exact: true }) }).getByRole('alert');
  await expect(fieldError).not.toBeEmpty();
  await expectAccessible(page);
  await screenshot(page, 'first-password');
  await page.getByLabel('New password', { exact: true }).fill(toddNewPassword);
  await page.getByLabel('New password again').fill(toddNewPassword);
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await logOut(page);
});

test('a session cookie without the CSRF token is refused; a session ended elsewhere sends the page to the login, saying why', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'carelog_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');
  // the page's script cannot read it
  expect(await page.evaluate(() => document.cookie)).not.toContain('carelog_session');

  expect((await page.request.get('/v1/staff')).status()).toBe(200);
  const body = { name: 'Renamed by a forged request' };
  const forged = await page.request.patch('/v1/agency/settings', { data: body });
  expect(forged.status()).toBe(403);
  expect(forged.headers()['content-type']).toBe('application/problem+json');
  expect((await forged.json()).detail).toContain('X-CSRF-Token');
  const wrong = await page.request.patch('/v1/agency/settings', { data: body, headers: { 'X-CSRF-Token': '0'.repeat(64) } });
  expect(wrong.status()).toBe(403);
  const settings = await (await page.request.get('/v1/agency/settings')).json();
  expect(settings.name).not.toBe(body.name);

  // the session ends elsewhere (the page's own CSRF token, as its script would send it): the next
  // screen shows the login and says why
  const csrf = (await (await page.request.get('/v1/auth/session')).json()).csrf_token;
  expect((await page.request.post('/v1/auth/logout', { data: {}, headers: { 'X-CSRF-Token': csrf } })).status()).toBe(200);
  expect((await page.context().cookies()).find((c) => c.name === 'carelog_session')).toBeUndefined();
  await page.getByRole('link', { name: 'Clients' }).click();
  await expect(page.getByRole('heading', { name: 'Staff login' })).toBeVisible();
  await expect(page.getByText('You were logged out')).toBeVisible();
});

test('clients: add one, assign staff, invite to the portal and see the invitation sent', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await expect(page.getByText('No clients you may see yet.')).toBeVisible();
  await page.getByRole('button', { name: 'Add client' }).click();
  const form = page.getByRole('form', { name: 'Add a client' });
  await form.getByLabel('First name').fill('Rosa');
  await form.getByLabel('Last name').fill('Diaz');
  await form.getByLabel('Date of birth').fill('1990-03-02');
  await form.getByLabel('E-mail').fill('not an address');
  await form.getByRole('button', { name: 'Add client' }).click();
  // the problem body's words beside the e-mail field
  await expect(form.locator('.field', { has: page.getByLabel('E-mail') }).getByRole('alert')).not.toBeEmpty();
  await form.getByLabel('E-mail').fill('rosa@demo.example');
  await form.getByRole('button', { name: 'Add client' }).click();
  await expect(form.getByRole('status')).toHaveText('Rosa Diaz was added.');

  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  await expect(page.getByRole('heading', { name: 'Rosa Diaz' })).toBeVisible();
  await page.getByLabel('Staff member to assign').selectOption({ label: 'Dana Admin (dadmin)' });
  await page.getByRole('button', { name: 'Assign', exact: true }).click();
  await expect(page.getByRole('listitem').filter({ hasText: 'Dana Admin (dadmin)' })).toBeVisible();
  await page.getByRole('button', { name: 'Invite to the portal' }).click();
  await expect(page.getByTestId('invitation-state')).toHaveText('Sent, waiting for the client to register');
  await expectAccessible(page);
  await screenshot(page, 'client');
});

test('CSV import: the dry run reports row by row and imports nothing', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Import CSV' }).click();
  const csv = 'Given,Surname,DOB,Mobile\nAnn,Lee,1985-04-12,5035550101\nBo,Chen,not-a-date,5035550102\nCy,Park,1970-01-31,\n';
  await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'clients.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  // the file's columns were recognised
  await expect(page.getByLabel('first name', { exact: true })).toHaveValue('Given');
  await expect(page.getByLabel('date of birth', { exact: true })).toHaveValue('DOB');
  await page.getByRole('button', { name: 'Check (dry run)' }).click();
  await expect(page.getByRole('heading', { name: 'Dry run: nothing was imported' })).toBeVisible();
  await expect(page.getByTestId('import-summary')).toHaveText('3 rows: 2 would be imported, 1 with problems.');
  const bad = page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'Problem', exact: true }) });
  await expect(bad).toHaveCount(1);
  await expect(bad).toContainText('date of birth');
  await expectAccessible(page);
  await screenshot(page, 'import-dry-run');
  await page.getByRole('link', { name: '← All clients' }).click();
  await expect(page.getByRole('link', { name: 'Lee, Ann' })).toHaveCount(0);
});

test('the client follows the e-mailed link, is refused an e-mail username, registers, logs in and writes', async ({ page }) => {
  const link = await linkFromMail('rosa@demo.example', /https?:\/\/\S+\/portal\/register\?token=[A-Za-z0-9._~%-]+/);
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Create your portal account' })).toBeVisible();
  await expect(page.getByText('it can never be changed')).toBeVisible();
  await page.getByLabel('Username').fill('rosa@demo.example');
  await page.getByLabel('Password', { exact: true }).click();
  await expect(page.getByText('A username cannot be an e-mail address. Choose a name without "@".')).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, 'portal-register');
  await page.getByLabel('Username').fill('rosadiaz');
  await page.getByLabel('Password', { exact: true }).fill(rosaPassword);
  await page.getByLabel('Password again').fill(rosaPassword);
  await page.getByRole('button', { name: 'Create account' }).click();

  await expect(page.getByText('Your account is ready.')).toBeVisible();
  await expect(page.getByLabel('Username')).toHaveValue('rosadiaz');
  await page.getByLabel('Agency code').fill(agency);
  await page.getByLabel('Password').fill(rosaPassword);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Hello, Rosa' })).toBeVisible();
  await page.getByLabel('Message', { exact: true }).fill('Can we move Thursday to 3pm?');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(page.getByText('Your message was sent.')).toBeVisible();
  await expect(page.getByText('Can we move Thursday to 3pm?')).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, 'portal-messages');
  // at phone width nothing runs off the side of the page
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await screenshot(page, 'portal-phone');

  // the portal session opens nothing of the staff API, and the console does not know it
  expect((await page.request.get('/v1/staff')).status()).toBe(401);
  await page.goto('/staff');
  await expect(page.getByRole('heading', { name: 'Staff login' })).toBeVisible();
});

test('the staff member assigned to the client reads the message and answers', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  await expect(page.getByText('Can we move Thursday to 3pm?')).toBeVisible();
  await expect(page.getByTestId('invitation-state')).toHaveText('Registered');
  await page.getByLabel('Reply').fill('Yes, 3pm works.');
  await page.getByRole('button', { name: 'Send reply' }).click();
  await expect(page.getByText('Yes, 3pm works.')).toBeVisible();
  // the audit trail: this very read of the record, by name (views arrive a moment after the read)
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(page.getByRole('list', { name: 'Who opened this record' })).toContainText('Dana Admin opened the client record', { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await expectAccessible(page);
});

test('wrong passwords lock an account; the admin unlocks it', async ({ page }) => {
  await wrongPasswords(page, 'tjones', 5);
  expect(await refusedLogin(page, 'tjones', toddNewPassword)).toContain('do not match');

  await staffLogin(page, adminUser, adminPassword);
  const unlocked = page.waitForResponse((r) => r.url().endsWith('/unlock') && r.request().method() === 'POST');
  await page.getByRole('row').filter({ hasText: 'tjones' }).getByRole('button', { name: 'Unlock' }).click();
  expect((await unlocked).status()).toBeLessThan(300);
  await logOut(page);
  await staffLogin(page, 'tjones', toddNewPassword);
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
});

test('an admin edits a staff member: role, type, locations and modules; the timeline shows each change', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  // a location to give (the console has no screen for adding locations; the API does)
  const added = await page.request.post('/v1/locations', { data: { name: 'Main clinic' }, headers: { 'X-CSRF-Token': await csrfOf(page), 'Idempotency-Key': crypto.randomUUID() } });
  expect(added.status()).toBe(201);

  await page.getByRole('link', { name: 'Todd Jones' }).click();
  await expect(page.getByRole('heading', { name: 'Todd Jones' })).toBeVisible();
  const form = page.getByRole('form', { name: 'Role and access' });
  await expect(form.getByRole('button', { name: 'Save changes' })).toBeDisabled();
  await form.getByLabel('Role').selectOption('scheduler');
  await form.getByLabel('Type').selectOption('administration');
  await form.getByLabel('Main clinic').check();
  await form.getByLabel('Messaging').check();
  await form.getByRole('button', { name: 'Save changes' }).click();
  await expect(form.getByRole('status')).toHaveText('Saved the changes to Todd Jones.');

  // what the server now holds, after a reload
  await page.reload();
  await expect(form.getByLabel('Role')).toHaveValue('scheduler');
  await expect(form.getByLabel('Type')).toHaveValue('administration');
  await expect(form.getByLabel('Main clinic')).toBeChecked();
  await expect(form.getByLabel('Messaging')).toBeChecked();
  await expect(form.getByLabel('Client portal')).not.toBeChecked();

  const history = page.getByRole('list', { name: 'History' });
  await expect(history).toContainText('Role set to scheduler');
  await expect(history).toContainText('Type set to administration');
  await expect(history).toContainText('Locations set (1 location)');
  await expect(history).toContainText('Given the messaging module');
  await expect(history).toContainText('Added as Todd Jones (tjones), therapist');
  await expect(history.getByRole('listitem').first()).toContainText('by Dana Admin');
  await expectAccessible(page);
  await screenshot(page, 'staff-edit');

  // the staff list filters by the location just given
  await page.getByRole('link', { name: '← All staff' }).click();
  await expect(page.getByRole('link', { name: 'Dana Admin' })).toBeVisible();
  await page.getByRole('search').getByLabel('Location').selectOption({ label: 'Main clinic' });
  await expect(page.getByRole('link', { name: 'Dana Admin' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Todd Jones' })).toBeVisible();
  await page.getByRole('search').getByLabel('Role').selectOption('therapist');
  await expect(page.getByText('No staff match these filters.')).toBeVisible();
});

test('an admin unlocks a locked account from its page, gives a temporary password once and deactivates', async ({ page }) => {
  await wrongPasswords(page, 'tjones', 5);
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Todd Jones' }).click();
  await expect(page.getByTestId('member-status')).toContainText('Locked after 5 wrong passwords');
  const account = page.getByRole('region', { name: 'Account' });
  await account.getByRole('button', { name: 'Unlock' }).click();
  await expect(account.getByRole('status')).toHaveText('Todd Jones was unlocked.');
  await expect(page.getByTestId('member-status')).toHaveText('Active');
  await expect(page.getByRole('list', { name: 'History' })).toContainText('Unlocked');

  await account.getByLabel('Reason (kept with the change)').fill('forgot the password');
  await account.getByRole('button', { name: 'Give a temporary password' }).click();
  const temporary = (await account.getByTestId('temporary-password').textContent()) ?? '';
  expect(temporary.length).toBeGreaterThan(8);
  await expect(page.getByRole('list', { name: 'History' })).toContainText('Given a temporary password');
  await expectAccessible(page);

  await account.getByRole('button', { name: 'Deactivate…' }).click();
  await account.getByLabel('Reason (kept with the change)').fill('left the agency');
  await account.getByRole('button', { name: 'Yes, deactivate' }).click();
  await expect(page.getByTestId('member-status')).toContainText('Deactivated');
  await expect(page.getByRole('list', { name: 'History' })).toContainText('Deactivated (reason: left the agency)');
  await expect(account.getByRole('button', { name: 'Unlock' })).toHaveCount(0);
  await screenshot(page, 'staff-account');
  await logOut(page);

  // the temporary password opens nothing for a deactivated account
  expect(await refusedLogin(page, 'tjones', temporary)).toContain('do not match');
});

test('a role that must use an authenticator is shown a QR code and the key at its first login', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Agency settings' }).click();
  await page.getByLabel('Scheduler', { exact: true }).check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved.')).toBeVisible();
  await page.getByRole('link', { name: 'Staff' }).click();
  await page.getByRole('link', { name: 'Tina Marie Jones' }).click();
  const account = page.getByRole('region', { name: 'Account' });
  await account.getByRole('button', { name: 'Give a temporary password' }).click();
  const temporary = (await account.getByTestId('temporary-password').textContent()) ?? '';
  await logOut(page);

  await staffLogin(page, 'tmjones', temporary);
  await page.getByLabel('Current (temporary) password').fill(temporary);
  await page.getByLabel('New password', { exact: true }).fill(tinaPassword);
  await page.getByLabel('New password again').fill(tinaPassword);
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(page.getByRole('heading', { name: 'Set up an authenticator' })).toBeVisible();
  await page.getByRole('button', { name: 'Start' }).click();
  const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
  await expect(qr).toBeVisible();
  const box = await qr.boundingBox();
  expect(box!.width).toBeGreaterThan(100);
  const secret = ((await page.getByTestId('mfa-secret').textContent()) ?? '').trim();
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
  tinaSecret = secret;
  await expectAccessible(page);
  await screenshot(page, 'mfa-qr');
  await page.getByLabel('Six-digit code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  // a scheduler may read the staff directory but not manage anyone
  await page.getByRole('link', { name: 'Dana Admin' }).click();
  await expect(page.getByRole('heading', { name: 'Dana Admin' })).toBeVisible();
  await expect(page.getByRole('form', { name: 'Role and access' }).getByLabel('Role')).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Save changes' })).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Account' })).toHaveCount(0);
  // and may read the agency's settings but not change them
  await page.getByRole('link', { name: 'Agency settings' }).click();
  await expect(page.getByRole('button', { name: 'Save settings' })).toBeDisabled();
  await expect(page.getByLabel('Client portal', { exact: true })).toBeDisabled();
});

test('kiosk: staff start a session for a client and hand the device over; it opens the form and nothing else', async ({ page }) => {
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  const start = page.getByRole('form', { name: 'Start a kiosk session' });
  await start.getByLabel('Form', { exact: true }).fill('intake-questionnaire');
  await start.getByRole('button', { name: 'Start kiosk session' }).click();
  await expect(start.getByTestId('kiosk-link')).toContainText('/kiosk#');
  await expect(page.getByTestId('kiosk-state')).toHaveText('Open');
  await expectAccessible(page);
  await start.getByRole('button', { name: 'Log out and open the kiosk on this device' }).click();

  await expect(page.getByRole('heading', { name: 'Hello, Rosa' })).toBeVisible();
  await expect(page.getByText('intake-questionnaire')).toBeVisible();
  // the token is gone from the address bar; the page links nowhere; the staff session has ended
  expect(new URL(page.url()).hash).toBe('');
  await expect(page.getByRole('link')).toHaveCount(0);
  expect((await page.request.get('/v1/staff')).status()).toBe(401);
  await expectAccessible(page);
  await screenshot(page, 'kiosk');
  await page.getByLabel('Your answers').fill('Sleeping better this week.');
  await page.getByRole('button', { name: 'Send my answers' }).click();
  await expect(page.getByRole('heading', { name: 'Thank you' })).toBeVisible();
  // a reload holds no token any more
  await page.reload();
  await expect(page.getByRole('alert')).toContainText('no kiosk session');

  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  await expect(page.getByTestId('kiosk-state')).toHaveText('Filled in');
  await expect(page.getByRole('region', { name: 'Kiosk sessions' })).toContainText('Sleeping better this week.');
  const history = page.getByRole('list', { name: 'History' });
  await expect(history).toContainText('Filled in the kiosk form');
  await expect(history).toContainText('Kiosk session started by Dana Admin for form intake-questionnaire');
  await expect(history).toContainText('Invited to the portal at rosa@demo.example');
  await expect(history).toContainText('Dana Admin assigned');
  await expectAccessible(page);
  await screenshot(page, 'client-timeline');
});

test('a client\'s portal account: a scheduler sees it; an admin gives it a temporary password, with the reason required, shown once', async ({ page }) => {
  // the code of the next 30-second step: the current one may have confirmed Tina's enrolment
  await staffLogin(page, 'tmjones', tinaPassword, totp(tinaSecret, Date.now() + 30_000));
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  const seen = page.getByRole('region', { name: 'Portal account' });
  await expect(seen.getByTestId('portal-account-status')).toHaveText('Active');
  await expect(seen.getByText('rosadiaz')).toBeVisible();
  // without staff.password_reset there is no such button
  await expect(seen.getByRole('button')).toHaveCount(0);
  await logOut(page);

  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  const account = page.getByRole('region', { name: 'Portal account' });
  await account.getByRole('button', { name: 'Give a temporary password' }).click();
  await account.getByRole('button', { name: 'Create temporary password' }).click();
  // no reason, no password: the server's words beside the field
  await expect(fieldAlert(page, 'Reason (kept with the change)')).toContainText('is required');
  await expect(account.getByTestId('temporary-password')).toHaveCount(0);
  await expectAccessible(page);
  await account.getByLabel('Reason (kept with the change)').fill('forgot the password');
  await account.getByRole('button', { name: 'Create temporary password' }).click();
  rosaTemporary = ((await account.getByTestId('temporary-password').textContent()) ?? '').trim();
  expect(rosaTemporary.length).toBeGreaterThan(8);
  await expect(account.getByTestId('portal-account-status')).toHaveText('Has a temporary password: the client chooses their own at the next login.');
  await expect(page.getByRole('list', { name: 'History' })).toContainText('Given a temporary portal password (reason: forgot the password)');
  await expectAccessible(page);
  await screenshot(page, 'client-portal-account');
  // shown once: the page holds it no longer after a reload
  await page.reload();
  await expect(account.getByTestId('portal-account-status')).toHaveText('Has a temporary password: the client chooses their own at the next login.');
  await expect(account.getByTestId('temporary-password')).toHaveCount(0);
});

test('with a temporary password the client must first choose their own; errors show beside their fields', async ({ page }) => {
  // the admin's temporary password replaced the old one
  await portalLogin(page, 'rosadiaz', rosaPassword);
  await expect(page.getByRole('alert')).toContainText('do not match');
  await portalLogin(page, 'rosadiaz', rosaTemporary);
  await expect(page.getByRole('heading', { name: 'Choose your own password' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Messages' })).toHaveCount(0);
  // and the server answers such a session nothing else
  expect((await page.request.get('/v1/portal/threads')).status()).toBe(403);

  await page.getByLabel('Current (temporary) password').fill('Not-The-Temporary-1!');
  await page.getByLabel('New password', { exact: true }).fill(rosaOwnPassword);
  await page.getByLabel('New password again').fill(rosaOwnPassword);
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(fieldAlert(page, 'Current (temporary) password')).toContainText('incorrect');

  await page.getByLabel('Current (temporary) password').fill(rosaTemporary);
  await page.getByLabel('New password again').fill('Rosa-Typo-Choice-8!');
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(fieldAlert(page, 'New password again')).toHaveText('The two new passwords differ.');
  await expect(fieldAlert(page, 'Current (temporary) password')).toHaveCount(0);

  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('New password again').fill('short');
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(fieldAlert(page, 'New password')).not.toBeEmpty();
  await expect(fieldAlert(page, 'New password again')).toHaveCount(0);
  await expectAccessible(page);
  await screenshot(page, 'portal-choose-password');

  await page.getByLabel('New password', { exact: true }).fill(rosaOwnPassword);
  await page.getByLabel('New password again').fill(rosaOwnPassword);
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(page.getByRole('heading', { name: 'Hello, Rosa' })).toBeVisible();
  await expect(page.getByText('Can we move Thursday to 3pm?')).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { name: 'Client portal' })).toBeVisible();

  // the temporary password is spent; the client's own opens the portal straight away
  await portalLogin(page, 'rosadiaz', rosaTemporary);
  await expect(page.getByRole('alert')).toContainText('do not match');
  await portalLogin(page, 'rosadiaz', rosaOwnPassword);
  await expect(page.getByRole('heading', { name: 'Hello, Rosa' })).toBeVisible();
});

test('a client who forgot the password asks for a link, chooses a new one on the e-mailed page; the old one is refused and other sessions end', async ({ page, browser }) => {
  // a session open on another device, ended by the reset
  const elsewhere = await browser.newContext();
  const other = await elsewhere.newPage();
  await portalLogin(other, 'rosadiaz', rosaOwnPassword);
  await expect(other.getByRole('heading', { name: 'Hello, Rosa' })).toBeVisible();

  await page.goto('/portal');
  await page.getByRole('button', { name: 'Forgot your password?' }).click();
  await expect(page.getByRole('heading', { name: 'Forgot your password?' })).toBeVisible();
  await page.getByLabel('Agency code').fill(agency);
  // nothing is sent without a username; the page says so beside the field
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(fieldAlert(page, 'Username')).toHaveText('Enter the username you chose when you registered.');
  // an account that does not exist gets the same answer as one that does
  await page.getByLabel('Username').fill('nobody-here');
  const asked = page.waitForResponse((r) => r.url().endsWith('/v1/portal/password-reset'));
  await page.getByRole('button', { name: 'Send me a link' }).click();
  expect((await asked).status()).toBe(202);
  const neutral = page.getByRole('status');
  await expect(neutral).toContainText('If that account exists');
  const unknownAnswer = await neutral.textContent();
  await expectAccessible(page);
  await screenshot(page, 'portal-forgot');
  await page.getByLabel('Username').fill('rosadiaz');
  const askedAgain = page.waitForResponse((r) => r.url().endsWith('/v1/portal/password-reset'));
  await page.getByRole('button', { name: 'Send me a link' }).click();
  expect((await askedAgain).status()).toBe(202);
  await expect(neutral).toHaveText(unknownAnswer ?? '');

  const link = await linkFromMail('rosa@demo.example', /https?:\/\/\S+\/portal\/reset\?token=[A-Za-z0-9._~%-]+/);
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await page.getByLabel('New password', { exact: true }).fill(rosaResetPassword);
  await page.getByLabel('New password again').fill('Rosa-Typo-Reset-9!');
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(fieldAlert(page, 'New password again')).toHaveText('The two new passwords differ.');
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('New password again').fill('short');
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(fieldAlert(page, 'New password')).not.toBeEmpty();
  await expectAccessible(page);
  await screenshot(page, 'portal-reset');
  await page.getByLabel('New password', { exact: true }).fill(rosaResetPassword);
  await page.getByLabel('New password again').fill(rosaResetPassword);
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(page.getByRole('status')).toContainText('Your password was changed');
  await page.getByRole('link', { name: 'Log in' }).click();
  await expect(page.getByText('Your new password is set.')).toBeVisible();

  // the old password is refused, the new one opens the portal
  await portalLogin(page, 'rosadiaz', rosaOwnPassword);
  await expect(page.getByRole('alert')).toContainText('do not match');
  await portalLogin(page, 'rosadiaz', rosaResetPassword);
  await expect(page.getByRole('heading', { name: 'Hello, Rosa' })).toBeVisible();

  // the session on the other device has ended
  await other.reload();
  await expect(other.getByRole('heading', { name: 'Client portal' })).toBeVisible();
  await elsewhere.close();

  // the link works once
  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill('Rosa-Second-Reset-10!');
  await page.getByLabel('New password again').fill('Rosa-Second-Reset-10!');
  await page.getByRole('button', { name: 'Save password' }).click();
  await expect(page.getByRole('alert')).toContainText('invalid, already used or expired');
  await expect(page.getByRole('link', { name: 'Ask for a new link' })).toBeVisible();

  // staff see both steps on the client's page
  await staffLogin(page, adminUser, adminPassword);
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Diaz, Rosa' }).click();
  const history = page.getByRole('list', { name: 'History' });
  await expect(history).toContainText('Asked for a portal password reset link');
  await expect(history).toContainText('Set a new portal password with a reset link');
  await expect(page.getByTestId('portal-account-status')).toHaveText('Active');
});
