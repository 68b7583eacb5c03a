/**
 * Runs in every test worker before the test files (so before anything imports `webgpu`): makes Dawn
 * find a software GPU on headless Linux when the caller did not configure one. vitest.config.ts sets the
 * same defaults in the main process (LD_LIBRARY_PATH must exist before the worker process starts).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

if (process.platform === 'linux') {
  const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  process.env.EGL_PLATFORM ??= 'surfaceless';
}
