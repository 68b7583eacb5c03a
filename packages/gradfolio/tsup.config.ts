import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // Module reprs use constructor.name (PyTorch prints class names).
  keepNames: true,
  external: [/^@gradfolio\//, 'webgpu'],
});
