import { tensor } from '@gradfolio/tensor';
import { initWebGPU } from './src/index.js';
const mode = process.argv[2] ?? '';
const b = await initWebGPU({ dawnFlags: ['backend=vulkan'] });
if (mode.includes('L')) b.device.addEventListener('uncapturederror', (e) => console.log('ERR', (e as any).error.message));
const x = tensor([1, 2, 3], { dtype: 'float32', device: 'webgpu' });
if (mode.includes('S')) await b.sync!();
if (mode.includes('R')) console.log(await x.data());
if (mode.includes('D')) b.device.destroy();
