/**
 * gradfolio: every `@gradfolio/*` package under one torch-like namespace. Importing it installs
 * autograd; tensors live on the CPU until {@link useWebGPU} selects the GPU. No logic of its own beyond
 * wiring: each package also works alone.
 *
 * @example
 * ```ts
 * import * as gf from 'gradfolio';
 *
 * const lstm = new gf.nn.LSTM(8, 64, { batchFirst: true });
 * const opt = new gf.optim.Adam(lstm.parameters(), { lr: 1e-3 });
 * const [out, [hN]] = lstm.forward(gf.randn([32, 50, 8]));
 * const weights = new gf.nn.Linear(64, 4).forward(hN.select(0, -1)).softmax(1);
 * const loss = gf.finance.sharpeLoss(gf.randn([32, 4]).mul(0.01), weights);
 * loss.backward();
 * opt.step();
 * ```
 */
import { getDefaultDevice, setDefaultDevice } from '@gradfolio/tensor';

/** Autograd in full (`Node`, hooks, the derivative table, anomaly mode), PyTorch's `torch.autograd`. */
export * as autograd from '@gradfolio/autograd';
export {
  enableGrad,
  grad,
  gradcheck,
  gradgradcheck,
  isGradEnabled,
  noGrad,
  setGradEnabled,
  zeroGrad,
} from '@gradfolio/autograd';
/** Datasets, loaders, windows, scalers, CSV tables and configs (`torch.utils.data` and more). */
export * as data from '@gradfolio/data';
/** Differentiable finance losses, portfolio optimisers, backtests and metrics. */
export * as finance from '@gradfolio/finance';
/** Modules, layers, LSTM/GRU, losses, init and weight interop (`torch.nn`). */
export * as nn from '@gradfolio/nn';
/** Optimizers and learning-rate schedulers (`torch.optim`). */
export * as optim from '@gradfolio/optim';
export * from '@gradfolio/tensor';

/** What {@link useWebGPU} selected. */
export interface DeviceChoice {
  /** The default device new tensors now go to: `'webgpu'`, or `'cpu'` when WebGPU is unavailable. */
  readonly device: 'webgpu' | 'cpu';
  /** Why WebGPU could not be used (only when `device` is `'cpu'`). */
  readonly reason?: string;
}

/** Options of {@link useWebGPU}: those of `initWebGPU` (`@gradfolio/webgpu`), plus `fallback`. */
export interface UseWebGPUOptions {
  /** Adapter power preference (`'high-performance'` or `'low-power'`). */
  powerPreference?: 'high-performance' | 'low-power';
  /** Ask for the platform's software adapter. */
  forceFallbackAdapter?: boolean;
  /** `'compatibility'` also accepts OpenGL ES class adapters. */
  featureLevel?: 'core' | 'compatibility';
  /** Node only: flags for the `webgpu` package (Dawn). */
  dawnFlags?: string[];
  /** Stay on the CPU (and say why) instead of throwing when WebGPU is unavailable (default true). */
  fallback?: boolean;
}

/**
 * Initialises the WebGPU backend (browsers: `navigator.gpu`; Node: the optional `webgpu` package) and
 * makes it the default device. Without WebGPU it keeps the CPU and returns the reason, or throws with
 * `{ fallback: false }`.
 *
 * @example
 * ```ts
 * const { device, reason } = await gf.useWebGPU();
 * console.log(device === 'webgpu' ? 'training on the GPU' : `CPU (${reason})`);
 * ```
 */
export async function useWebGPU(options: UseWebGPUOptions = {}): Promise<DeviceChoice> {
  const { fallback = true, ...init } = options;
  try {
    const { initWebGPU } = await import('@gradfolio/webgpu');
    await initWebGPU(init);
    setDefaultDevice('webgpu');
    return { device: 'webgpu' };
  } catch (e) {
    if (!fallback) throw e;
    setDefaultDevice('cpu');
    return { device: 'cpu', reason: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Makes the CPU the default device again.
 *
 * @example
 * ```ts
 * gf.useCPU();
 * gf.zeros([2]).device; // 'cpu'
 * ```
 */
export function useCPU(): void {
  setDefaultDevice('cpu');
}

/**
 * The device new tensors are created on (`'cpu'` or `'webgpu'`).
 *
 * @example
 * ```ts
 * gf.device(); // 'cpu'
 * ```
 */
export function device(): string {
  return getDefaultDevice();
}
