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

/**
 * Adam's shaders share one uniform layout: [n, pOff, gOff, mOff, vOff, xOff, beta1, 1 - beta1, beta2,
 * 1 - beta2, sqrt(bias correction 2), eps, -step size], and the two halves below, so the one-pass and
 * the two-pass forms run the same operations in the same order.
 */
const ADAM_UNIFORMS = 13;
const P = slot(1);
const G = slot(2);
const M = slot(3);
const V = slot(4);
const X = slot(5);

/** exp_avg.mul_(beta1).add_(grad, alpha = 1 - beta1); exp_avg_sq.mul_(beta2).add_(grad * (1 - beta2) * grad). */
const MOMENTS_BODY = `let gi = g[${G} + i];
  let mi = m[${M} + i] * ${f(6)} + ${f(7)} * gi;
  m[${M} + i] = mi;
  let vi = v[${V} + i] * ${f(8)} + (gi * ${f(9)}) * gi;
  v[${V} + i] = vi;`;

/** p += mi * -step_size / (sqrt(vv) / sqrt(bias_correction2) + eps); AMSGrad's max first (NaN wins like torch.maximum). */
function stepBody(amsgrad: boolean): string {
  const ams = `let xi = x[${X} + i];
  let xnan = (bitcast<u32>(xi) & 0x7fffffffu) > 0x7f800000u;
  if (xi > vv || xnan) { vv = xi; }
  x[${X} + i] = vv;`;
  return `var vv = vi;
  ${amsgrad ? ams : ''}
  let denom = sqrt(vv) / ${f(10)} + ${f(11)};
  p[${P} + i] = p[${P} + i] + (mi * ${f(12)}) / denom;`;
}

const binding = (i: number, name: string, write: boolean): string =>
  `@group(0) @binding(${i}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<f32>;`;

/** Moments and step in one pass: param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq). */
function adamShader(amsgrad: boolean): string {
  return `${uniformDecl(ADAM_UNIFORMS)}
${binding(1, 'p', true)}
${binding(2, 'g', false)}
${binding(3, 'm', true)}
${binding(4, 'v', true)}
${amsgrad ? binding(5, 'x', true) : ''}
${ENTRY}
  ${INDEX}
  ${MOMENTS_BODY}
  ${stepBody(amsgrad)}
}`;
}

/** Two-pass form, first pass: grad, exp_avg, exp_avg_sq. */
const MOMENTS = `${uniformDecl(ADAM_UNIFORMS)}
${binding(1, 'g', false)}
${binding(2, 'm', true)}
${binding(3, 'v', true)}
${ENTRY}
  ${INDEX}
  ${MOMENTS_BODY}
}`;

/** Two-pass form (AMSGrad on 4-binding devices), second pass: param, exp_avg, exp_avg_sq, max_exp_avg_sq. */
const AMSGRAD_STEP = `${uniformDecl(ADAM_UNIFORMS)}
${binding(1, 'p', true)}
${binding(2, 'm', false)}
${binding(3, 'v', false)}
${binding(4, 'x', true)}
${ENTRY}
  ${INDEX}
  let mi = m[${M} + i];
  let vi = v[${V} + i];
  ${stepBody(true)}
}`;

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
    const u = Int32Array.of(
      n,
      p.offset,
      g.offset,
      m.offset,
      v.offset,
      x?.offset ?? 0,
      ...[beta1, 1 - beta1, beta2, 1 - beta2, Math.sqrt(1 - beta2 ** step), num(attrs, 'eps'), -stepSize].map(
        f32AsI32,
      ),
    );
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
        u,
        bindings,
        groups(n),
        temps,
      );
    } else {
      ctx.dispatch(
        enc,
        ctx.pipeline('optim|adam-moments', () => MOMENTS),
        u,
        [{ buffer: buf(g) }, { buffer: buf(m), write: true }, { buffer: buf(v), write: true }],
        groups(n),
        temps,
      );
      ctx.dispatch(
        enc,
        ctx.pipeline('optim|adam-step|1', () => AMSGRAD_STEP),
        u,
        [
          { buffer: buf(p), write: true },
          { buffer: buf(m) },
          { buffer: buf(v) },
          { buffer: buf(x), write: true },
        ],
        groups(n),
        temps,
      );
    }
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
