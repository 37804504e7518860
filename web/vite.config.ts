import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Built into ../build/web (carelogd serves it from there by default); assets get content hashes,
// which carelogd caches as immutable. No inline scripts or styles: the CSP allows only 'self'.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: process.env.CARELOG_WEB_OUT ?? '../build/web',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080' } },
  test: { include: ['src/**/*.test.ts'] },
});
