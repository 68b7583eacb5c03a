import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Headless Linux: Dawn (the `webgpu` package) runs on SwiftShader's Vulkan ICD as shipped with Debian's
// chromium package. Dawn dlopens the Vulkan loader (libvulkan.so.1); when the system has none
// (package libvulkan1), chromium's copy is used through a private directory holding only a link to it.
// (Putting /usr/lib/chromium itself on the path would also shadow Mesa's libEGL with chromium's ANGLE
// copy and break the OpenGL fallback.) The dynamic linker reads LD_LIBRARY_PATH when a process starts,
// so it is set here, in the main process, before the forked workers exist; test/setup.ts re-checks the
// other variables. Variables already set by the caller win.
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
  const chromiumLoader = `${CHROMIUM}/libvulkan.so.1`;
  if (!systemLoader && existsSync(chromiumLoader)) {
    const dir = join(tmpdir(), 'gradfolio-webgpu-vulkan-loader');
    const link = join(dir, 'libvulkan.so.1');
    try {
      mkdirSync(dir, { recursive: true });
      if (!existsSync(link)) symlinkSync(chromiumLoader, link);
      const cur = process.env.LD_LIBRARY_PATH;
      if (!cur?.split(delimiter).includes(dir)) {
        process.env.LD_LIBRARY_PATH = cur ? `${cur}${delimiter}${dir}` : dir;
      }
    } catch {
      // No writable temp dir: the tests fall back to OpenGL (test/gpu.ts).
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
