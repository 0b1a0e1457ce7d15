// SPDX-License-Identifier: AGPL-3.0-or-later
import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

// FOCAL_WEB_OUT lets the CMake build put the app in its build tree (build/<preset>/web); `focal serve` serves
// that folder (FOCAL_WEB_DIR). FOCAL_API lets `npm run dev` proxy the API to a running `focal serve`.
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: process.env.FOCAL_WEB_OUT ?? 'dist',
    emptyOutDir: true,
    // The polyfill would be an inline script, which the server's Content-Security-Policy refuses.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: { '/api': process.env.FOCAL_API ?? 'http://127.0.0.1:2283' },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
