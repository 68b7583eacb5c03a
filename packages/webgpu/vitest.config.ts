import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter } from 'node:path';
import { defineConfig } from 'vitest/config';

// Headless Linux: Dawn (the `webgpu` package) runs on SwiftShader's Vulkan ICD as shipped with Debian's
// chromium package. The Vulkan loader (libvulkan.so.1) must be on the dynamic linker's path when the
// worker process starts, so it is set here, in the main process, before the forked workers exist; the
// other variables are also (re)checked by test/setup.ts. Variables already set by the caller win.
const CHROMIUM = '/usr/lib/chromium';
if (process.platform === 'linux') {
  const icd = `${CHROMIUM}/vk_swiftshader_icd.json`;
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const systemLoader = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
  ].some((d) => existsSync(`${d}/libvulkan.so.1`));
  if (!systemLoader && existsSync(`${CHROMIUM}/libvulkan.so.1`)) {
    const cur = process.env.LD_LIBRARY_PATH;
    if (!cur?.split(delimiter).includes(CHROMIUM)) {
      process.env.LD_LIBRARY_PATH = cur ? `${cur}${delimiter}${CHROMIUM}` : CHROMIUM;
    }
  }
}

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Workers are child processes, so they inherit LD_LIBRARY_PATH set above (threads could not).
    pool: 'forks',
    // SwiftShader runs the shaders on the CPU and compiles each pipeline once per process.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
