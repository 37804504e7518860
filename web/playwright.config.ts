import { defineConfig } from '@playwright/test';

// Run by ops/e2e, which starts a broker, carelogd (serving build/web), and an SMTP sink, and passes
// their addresses in the environment. Debian's chromium, headless; no browser download.
export default defineConfig({
  testDir: './e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: process.env.CARELOG_E2E_URL ?? 'http://127.0.0.1:8080',
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: process.env.CARELOG_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] },
    trace: 'retain-on-failure',
  },
});
