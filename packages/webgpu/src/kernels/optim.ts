/**
 * Fused optimizer updates (`adamUpdate`, `sgdUpdate` of the op table), float32, in place: one or two
 * dispatches per parameter instead of ~10 pointwise ops (and as many dispatches). The order of
 * operations and the scalar operands (rounded to f32, `alpha` multipliers applied as in the CPU's
 * elementwise kernels) follow the CPU kernels, which are bit-identical to the op-by-op update there.
 *
 * Adam is one dispatch (param, grad, exp_avg, exp_avg_sq, and with AMSGrad max_exp_avg_sq). Devices
 * may bind only 4 storage buffers per stage, so AMSGrad there takes two: the moment updates (grad,
 * exp_avg, exp_avg_sq), then the parameter step (param, exp_avg, exp_avg_sq, max_exp_avg_sq).
 */
import type { Kernel, KernelAttrs, TensorView } from '@gradfolio/tensor';
import type { GPUStorage, GpuContext } from '../context.js';
import { slot, uniformDecl } from '../layout.js';
import { f32AsI32 } from './pointwise.js';

const WG = 256;

// Shared head: a flat element index over a 2-D grid of workgroups.
const INDEX = `let i = i32(gid.x + gid.y * nwg.x * ${WG}u); let n = ${slot(0)}; if (i >= n) { return; }`;
const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {`;
const f = (k: number): string => `bitcast<f32>(${slot(k)})`;

/** Uniforms: [n, gOff, mOff, vOff, beta1, 1 - beta1, beta2, 1 - beta2]. */
const MOMENTS = `${uniformDecl(8)}
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
${ENTRY}
  ${INDEX}
  let gi = g[${slot(1)} + i];
  let mi = m[${slot(2)} + i] * ${f(4)} + ${f(5)} * gi;
  m[${slot(2)} + i] = mi;
  v[${slot(3)} + i] = v[${slot(3)} + i] * ${f(6)} + (gi * ${f(7)}) * gi;
}`;

/** AMSGrad's max, NaN winning like torch.maximum (tested by bits: no fast-math folding). */
const AMS_MAX = (x: string): string => `let xi = x[${x} + i];
  let xnan = (bitcast<u32>(xi) & 0x7fffffffu) > 0x7f800000u;
  if (xi > vv || xnan) { vv = xi; }
  x[${x} + i] = vv;`;

/**
 * Moments and step in one pass, the same operations in the same order as the two-pass kernels.
 * Uniforms: [n, pOff, gOff, mOff, vOff, xOff, beta1, 1 - beta1, beta2, 1 - beta2,
 * sqrt(bias correction 2), eps, -step size].
 */
function adamShader(amsgrad: boolean): string {
  return `${uniformDecl(13)}
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${amsgrad ? '@group(0) @binding(5) var<storage, read_write> x: array<f32>;' : ''}
${ENTRY}
  ${INDEX}
  let gi = g[${slot(2)} + i];
  let mi = m[${slot(3)} + i] * ${f(6)} + ${f(7)} * gi;
  m[${slot(3)} + i] = mi;
  let vi = v[${slot(4)} + i] * ${f(8)} + (gi * ${f(9)}) * gi;
  v[${slot(4)} + i] = vi;
  var vv = vi;
  ${amsgrad ? AMS_MAX(slot(5)) : ''}
  let denom = sqrt(vv) / ${f(10)} + ${f(11)};
  p[${slot(1)} + i] = p[${slot(1)} + i] + (mi * ${f(12)}) / denom;
}`;
}

/** Uniforms: [n, pOff, mOff, vOff, xOff, sqrt(bias correction 2), eps, -step size]. */
function stepShader(amsgrad: boolean): string {
  return `${uniformDecl(8)}
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
${amsgrad ? '@group(0) @binding(4) var<storage, read_write> x: array<f32>;' : ''}
${ENTRY}
  ${INDEX}
  var vv = v[${slot(3)} + i];
  ${amsgrad ? AMS_MAX(slot(4)) : ''}
  let denom = sqrt(vv) / ${f(5)} + ${f(6)};
  p[${slot(1)} + i] = p[${slot(1)} + i] + (m[${slot(2)} + i] * ${f(7)}) / denom;
}`;
}

/** Uniforms: [n, pOff, gOff, bOff, hasBuffer, init, nesterov, -lr, momentum, 1 - dampening]. */
const SGD = `${uniformDecl(10)}
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> b: array<f32>;
${ENTRY}
  ${INDEX}
  var d = g[${slot(2)} + i];
  if (${slot(4)} != 0) {
    var bi = d;
    if (${slot(5)} == 0) { bi = b[${slot(3)} + i] * ${f(8)} + ${f(9)} * d; }
    b[${slot(3)} + i] = bi;
    if (${slot(6)} != 0) { d = d + ${f(8)} * bi; } else { d = bi; }
  }
  p[${slot(1)} + i] = p[${slot(1)} + i] + ${f(7)} * d;
}`;

const num = (a: KernelAttrs, k: string): number => a[k] as number;

/** The fused update kernels of the WebGPU backend. @internal */
export function optimKernels(ctx: GpuContext): Array<[string, Kernel]> {
  const buf = (v: TensorView): GPUBuffer => (v.handle as GPUStorage).buffer;
  const groups = (n: number): number => Math.ceil(n / WG);
  const storageBindings = ctx.device.limits.maxStorageBuffersPerShaderStage;

  const adam: Kernel = (inputs, _outputs, attrs) => {
    const [p, g, m, v, x] = inputs as [TensorView, TensorView, TensorView, TensorView, TensorView?];
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (n === 0) return;
    const beta1 = num(attrs, 'beta1');
    const beta2 = num(attrs, 'beta2');
    const step = num(attrs, 'step');
    const stepSize = num(attrs, 'lr') / (1 - beta1 ** step);
    const amsgrad = x !== undefined;
    const enc = ctx.encoder();
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
    const [b1, c1, b2, c2] = [beta1, 1 - beta1, beta2, 1 - beta2].map(f32AsI32) as [
      number,
      number,
      number,
      number,
    ];
    const sqrtBc2 = f32AsI32(Math.sqrt(1 - beta2 ** step));
    const eps = f32AsI32(num(attrs, 'eps'));
    const negStep = f32AsI32(-stepSize);
    if (!amsgrad || storageBindings >= 5) {
      const bindings = [
        { buffer: buf(p), write: true },
        { buffer: buf(g) },
        { buffer: buf(m), write: true },
        { buffer: buf(v), write: true },
      ];
      if (x !== undefined) bindings.push({ buffer: buf(x), write: true });
      ctx.dispatch(
        enc,
        ctx.pipeline(`optim|adam|${amsgrad ? 1 : 0}`, () => adamShader(amsgrad)),
        Int32Array.of(
          n,
          p.offset,
          g.offset,
          m.offset,
          v.offset,
          x?.offset ?? 0,
          b1,
          c1,
          b2,
          c2,
          sqrtBc2,
          eps,
          negStep,
        ),
        bindings,
        groups(n),
        temps,
      );
      ctx.submit(enc, temps);
      return;
    }
    ctx.dispatch(
      enc,
      ctx.pipeline('optim|adam-moments', () => MOMENTS),
      Int32Array.of(n, g.offset, m.offset, v.offset, b1, c1, b2, c2),
      [{ buffer: buf(g) }, { buffer: buf(m), write: true }, { buffer: buf(v), write: true }],
      groups(n),
      temps,
    );
    const bindings = [{ buffer: buf(p), write: true }, { buffer: buf(m) }, { buffer: buf(v) }];
    if (x !== undefined) bindings.push({ buffer: buf(x), write: true });
    ctx.dispatch(
      enc,
      ctx.pipeline(`optim|adam-step|${amsgrad ? 1 : 0}`, () => stepShader(amsgrad)),
      Int32Array.of(n, p.offset, m.offset, v.offset, x?.offset ?? 0, sqrtBc2, eps, negStep),
      bindings,
      groups(n),
      temps,
    );
    ctx.submit(enc, temps);
  };

  const sgd: Kernel = (inputs, _outputs, attrs) => {
    const [p, g, b] = inputs as [TensorView, TensorView, TensorView?];
    const n = p.shape.reduce((a, c) => a * c, 1);
    if (n === 0) return;
    const enc = ctx.encoder();
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
    // Without a momentum buffer the shader never touches binding 3: bind the gradient's buffer there
    // would alias a read binding as writable, so a small scratch buffer stands in.
    const scratch = b === undefined ? ctx.acquire(16, false) : undefined;
    if (scratch !== undefined) temps.push(scratch);
    ctx.dispatch(
      enc,
      ctx.pipeline('optim|sgd', () => SGD),
      Int32Array.of(
        n,
        p.offset,
        g.offset,
        b?.offset ?? 0,
        b === undefined ? 0 : 1,
        attrs.init === true ? 1 : 0,
        attrs.nesterov === true ? 1 : 0,
        f32AsI32(-num(attrs, 'lr')),
        f32AsI32(num(attrs, 'momentum')),
        f32AsI32(1 - num(attrs, 'dampening')),
      ),
      [
        { buffer: buf(p), write: true },
        { buffer: buf(g) },
        { buffer: b === undefined ? (scratch as { buffer: GPUBuffer }).buffer : buf(b), write: true },
      ],
      groups(n),
      temps,
    );
    ctx.submit(enc, temps);
  };

  return [
    ['adamUpdate', adam],
    ['sgdUpdate', sgd],
  ];
}
