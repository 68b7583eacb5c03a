import { create } from 'webgpu';
import { GpuContext } from './src/context.js';
const mode = process.argv[2] ?? '';
async function mk() {
  const gpu = create(['backend=vulkan']);
  const adapter = (await gpu.requestAdapter())!;
  return adapter.requestDevice();
}
const device = await mk();
if (mode.includes('G')) { (globalThis as any).gc?.(); await new Promise((r) => setTimeout(r, 50)); }
const ctx = new GpuContext(device);
const { buffer } = ctx.acquire(12, false);
ctx.write(buffer, new Float32Array([1, 2, 3]));
const out = await ctx.readBytes(ctx.encoder(), buffer, 0, 12, []);
console.log(new Float32Array(out));
