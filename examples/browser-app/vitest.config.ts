import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Building the page, starting Chromium and training a few steps on SwiftShader on a slow machine.
    testTimeout: 300_000,
    hookTimeout: 150_000,
  },
});
