/**
 * Browsers refuse to compile a WebAssembly module synchronously on the main thread above 4 KiB; the CPU
 * kernels compile theirs synchronously (kernels are synchronous), so above that size a browser's main
 * thread silently falls back to the slower JS kernels. Keep the modules under it.
 */
import { describe, expect, it } from 'vitest';
import { GEMM_WASM_BASE64 } from '../src/cpu/gemm/wasm-module.generated.js';
import { LSTM_WASM_BASE64 } from '../src/cpu/lstm/wasm-module.generated.js';

const bytes = (b64: string): number => Buffer.from(b64, 'base64').length;

describe('wasm module sizes', () => {
  it('the GEMM and LSTM modules fit the 4 KiB synchronous-compile limit of browsers', () => {
    expect(bytes(GEMM_WASM_BASE64)).toBeLessThanOrEqual(4096);
    expect(bytes(LSTM_WASM_BASE64)).toBeLessThanOrEqual(4096);
  });

  it('the LSTM module compiles and exports its kernels', () => {
    const mod = new WebAssembly.Module(Buffer.from(LSTM_WASM_BASE64, 'base64'));
    const names = WebAssembly.Module.exports(mod)
      .map((e) => e.name)
      .sort();
    expect(names).toEqual(['atb', 'bwd', 'colsum', 'fwd', 'mm']);
  });
});
