import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources (package.json `source` condition), so the
  // page runs on the current code without building the packages first.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
