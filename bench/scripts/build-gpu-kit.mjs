// Bundles src/gpu.ts (the GPU mode of the benchmark) into one .mjs with the workspace packages inlined
// (from their TypeScript sources) and `webgpu` left external, copies torch_gpu.py and torch_models.py beside it, and packs
// both with ../shared/tools/make-gpu-kit.sh into .gpukit/ at the project root. Then, on the GPU machine:
//   bash .gpukit/run.sh app/gpu.mjs            (or --quick, --memory-steps=N)
// Run from anywhere: `pnpm --filter @gradfolio/bench bench:gpu-kit`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(bench, '..');
// esbuild comes with the root's tsup (a devDependency of the workspace root).
const req = createRequire(realpathSync(join(root, 'node_modules', 'tsup', 'package.json')));
const esbuild = req('esbuild');
const out = join(root, 'dist-bench');
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(bench, 'src', 'gpu.ts')],
  outfile: join(out, 'gpu.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  external: ['webgpu'],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
for (const py of ['torch_gpu.py', 'torch_models.py']) copyFileSync(join(bench, 'src', py), join(out, py));
const kit = join(root, '..', 'shared', 'tools', 'make-gpu-kit.sh');
const r = spawnSync(
  'bash',
  [kit, 'dist-bench/gpu.mjs', 'dist-bench/torch_gpu.py', 'dist-bench/torch_models.py'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
