import {
  type DType,
  GradfolioError,
  isFloating,
  type KernelAttrs,
  keep,
  type OpRecord,
  opTable,
  type Shape,
  type Tensor,
  tensor,
  zeros,
} from '@gradfolio/tensor';
import { derivatives } from './derivatives.js';
import { isAnomalyEnabled, isGradEnabled, setGradEnabled } from './mode.js';
import { type Derivative, type DerivativeContext, Node, type TensorHook } from './node.js';

/** Per-tensor autograd data kept in `Tensor._autograd`. */
interface Meta {
  /** Which output of `gradFn` the tensor is. */
  readonly index: number;
  /** The AccumulateGrad node of a leaf. */
  acc?: Node;
}

const META0: Meta = Object.freeze({ index: 0 });
const METAS: Meta[] = [META0];
function metaFor(index: number): Meta {
  let m = METAS[index];
  if (m === undefined) {
    m = Object.freeze({ index });
    METAS[index] = m;
  }
  return m;
}

function shapeStr(s: Shape): string {
  return `[${s.join(', ')}]`;
}

function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The AccumulateGrad node of a leaf (created on first use, one per leaf). */
function accumulatorOf(t: Tensor): Node {
  const meta = t._autograd as Meta | undefined;
  if (meta?.acc !== undefined) return meta.acc;
  const acc = new Node('AccumulateGrad', 'accumulate', {}, undefined, 0, t);
  acc.outputShapes.push(t.shape);
  acc.outputDtypes.push(t.dtype);
  acc.outputDevices.push(t.device);
  t._autograd = { index: 0, acc } satisfies Meta;
  return acc;
}

/**
 * In-place ops replace a base's history; views taken before keep pointing at the old one. Each base
 * counts its replacements and each view remembers the count its history was made for, so a stale
 * view is re-derived from the base's current history on its next use (as PyTorch does).
 */
const generation = new WeakMap<Tensor, number>();
const viewGeneration = new WeakMap<Tensor, number>();

function bumpGeneration(base: Tensor): void {
  generation.set(base, (generation.get(base) ?? 0) + 1);
}

/** Re-derives a stale view's history from its base's current one (a no-op for everything else). */
function refreshView(t: Tensor): void {
  const base = t.base;
  if (base === undefined || base === t) return;
  const g = generation.get(base);
  if (g === undefined || viewGeneration.get(t) === g) return;
  if (base.requiresGrad) attachView(t, base);
  else adopt(t, undefined, 0); // the base now holds values without history
  viewGeneration.set(t, g);
}

/** The node and output index that receive `t`'s gradient. @internal */
export function edgeOf(t: Tensor): [Node, number] {
  refreshView(t);
  const fn = t.gradFn;
  if (fn !== undefined) return [fn as Node, (t._autograd as Meta | undefined)?.index ?? 0];
  return [accumulatorOf(t), 0];
}

function derivativeFor(op: string): Derivative | undefined {
  const d = derivatives.get(op);
  if (d !== undefined) return d;
  const def = opTable.get(op);
  if (def !== undefined && !def.differentiable) return undefined;
  throw new GradfolioError(
    'DERIVATIVE_MISSING',
    `${op}: no derivative is registered for this op, so it cannot be recorded for autograd. Run it under noGrad() or detach() its inputs; please report this as a bug.`,
    { op },
  );
}

/** The hook's `record`: builds one node per recorded op. @internal */
export function recordOp(rec: OpRecord): void {
  const derivative = derivativeFor(rec.op);
  if (derivative === undefined) return;
  const inputs = rec.inputs;
  const name = typeof derivative.name === 'string' ? derivative.name : derivative.name(rec);
  const node = new Node(name, rec.op, rec.attrs, derivative, inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i]!;
    node.inputShapes[i] = t.shape;
    node.inputDtypes[i] = t.dtype;
    node.inputDevices[i] = t.device;
    refreshView(t);
    if (t.requiresGrad) {
      const [n, k] = edgeOf(t);
      node.next[i] = n;
      node.nextIndex[i] = k;
    }
  }
  const save = derivative.save;
  if (save === 'inputs' || save === 'both') {
    node.savedInputs = inputs.slice();
    node.savedInputVersions = inputs.map((t) => t.version);
  }
  const outputs = rec.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i]!;
    node.outputShapes.push(o.shape);
    node.outputDevices.push(o.device);
    if (isFloating(o.dtype)) {
      node.outputDtypes.push(o.dtype);
      o._setRequiresGrad(true);
      o.gradFn = node;
      o._autograd = metaFor(i);
    } else {
      node.outputDtypes.push(undefined);
    }
  }
  for (const o of outputs) {
    const b = o.base;
    if (b !== undefined && generation.has(b)) viewGeneration.set(o, generation.get(b)!);
  }
  if (save === 'outputs' || save === 'both') {
    node.savedOutputs = outputs.slice();
    node.savedOutputVersions = outputs.map((t) => t.version);
  }
  node.pinSaved();
  if (isAnomalyEnabled()) node.stack = new Error(`forward op '${rec.op}'`).stack;
}

// ------------------------------------------------------------------------------------ execution

interface RunOptions {
  retainGraph: boolean;
  createGraph: boolean;
  /** Accumulate into `.grad` of leaves (backward) or only capture (grad()). */
  accumulate: boolean;
  /** Only these accumulators receive grads (backward with `inputs`). */
  onlyAccumulators: Set<Node> | undefined;
  /** Nodes whose gradient (at an output index) is returned, with their result slots. */
  captures: Map<Node, Array<[number, number]>> | undefined;
  results: (Tensor | undefined)[];
}

/** Reachable nodes in reverse post-order: every node comes before the nodes its inputs come from. */
function topoOrder(roots: readonly Node[]): Node[] {
  const post: Node[] = [];
  const seen = new Set<Node>();
  const stack: Array<[Node, number]> = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push([r, 0]);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [n, i] = top;
      if (i < n.next.length) {
        top[1] = i + 1;
        const c = n.next[i];
        if (c !== undefined && !seen.has(c)) {
          seen.add(c);
          stack.push([c, 0]);
        }
      } else {
        stack.pop();
        post.push(n);
      }
    }
  }
  return post.reverse();
}

/** Nodes from which a target is reachable (so their derivatives must run). */
function neededNodes(order: readonly Node[], isTarget: (n: Node) => boolean): Set<Node> {
  const needed = new Set<Node>();
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    if (isTarget(n) || n.next.some((c) => c !== undefined && needed.has(c))) needed.add(n);
  }
  return needed;
}

/** Sums `g` down to `shape` (undoing broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  let r = dims.length > 0 ? g.sum(dims, { keepdim: true }) : g;
  if (lead > 0 || !sameShape(r.shape, shape)) r = r.reshape(shape as number[]);
  return r;
}

function fitToInput(node: Node, i: number, g: Tensor): Tensor {
  const shape = node.inputShapes[i]!;
  let r = g;
  if (!sameShape(r.shape, shape)) {
    if (r.numel !== 0 && !canBroadcastTo(shape, r.shape)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${node.name}: the derivative of '${node.op}' returned a gradient of shape ${shapeStr(r.shape)} for input ${i} of shape ${shapeStr(shape)}; please report this as a bug`,
        { op: node.op, shapes: [r.shape, shape] },
      );
    }
    r = sumToShape(r, shape);
  }
  const dtype = node.inputDtypes[i]!;
  if (r.dtype !== dtype) r = r.to({ dtype });
  const device = node.inputDevices[i]!;
  if (r.device !== device) r = r.to(device);
  return r;
}

function canBroadcastTo(target: Shape, from: Shape): boolean {
  if (from.length < target.length) return false;
  const lead = from.length - target.length;
  for (let i = 0; i < target.length; i++) {
    const t = target[i]!;
    if (t !== 1 && t !== from[i + lead]) return false;
  }
  return true;
}

/**
 * Adds `g` to a gradient buffer. The first sum allocates (the first gradient may be shared with other
 * buffers); later ones add in place into that sum, unless the pass is recorded (`owned` undefined).
 */
function addInto(
  buf: (Tensor | undefined)[],
  index: number,
  g: Tensor,
  owned: Set<Tensor> | undefined,
): void {
  const prev = buf[index];
  if (prev === undefined) buf[index] = g;
  else if (owned?.has(prev)) prev.add_(g);
  else {
    const sum = prev.add(g);
    owned?.add(sum);
    buf[index] = sum;
  }
}

function applyHooks(hooks: TensorHook[] | undefined, g: Tensor): Tensor {
  if (hooks === undefined) return g;
  let r = g;
  for (const h of hooks.slice()) {
    const out = h(r);
    if (out !== undefined) {
      if (!sameShape(out.shape, r.shape)) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `hook: a tensor hook returned a gradient of shape ${shapeStr(out.shape)} for a tensor of shape ${shapeStr(r.shape)}`,
          { op: 'hook', shapes: [out.shape, r.shape] },
        );
      }
      r = out;
    }
  }
  return r;
}

/** Adds `g` to `t.grad` the way PyTorch does: the first gradient is copied, later ones added in place. */
function accumulateGrad(t: Tensor, g: Tensor, createGraph: boolean): void {
  const prev = t.grad;
  if (prev === undefined) {
    if (createGraph) t.grad = keep(g);
    else {
      // Own the gradient: `g` may be shared with other leaves (add passes it on unchanged) or a view.
      const was = isGradEnabled();
      setGradEnabled(false);
      try {
        t.grad = keep(g.requiresGrad ? g.detach().clone() : g.clone());
      } finally {
        setGradEnabled(was);
      }
    }
  } else if (createGraph || prev.requiresGrad) {
    t.grad = keep(prev.add(g));
  } else {
    const was = isGradEnabled();
    setGradEnabled(false);
    try {
      prev.add_(g.requiresGrad ? g.detach() : g);
    } finally {
      setGradEnabled(was);
    }
  }
}

function hasNaN(t: Tensor): boolean {
  if (t.backend.readSync === undefined) return false;
  const was = isGradEnabled();
  setGradEnabled(false);
  try {
    return t.isnan().any().itemSync() === true;
  } finally {
    setGradEnabled(was);
  }
}

/** The context a derivative sees (a class, so nothing is allocated per node but the object). */
class Context implements DerivativeContext {
  readonly op: string;
  readonly attrs: KernelAttrs;
  readonly inputShapes: readonly Shape[];
  readonly inputDtypes: readonly DType[];
  constructor(
    private readonly node: Node,
    readonly grads: readonly (Tensor | undefined)[],
    readonly needs: readonly boolean[],
  ) {
    this.op = node.op;
    this.attrs = node.attrs;
    this.inputShapes = node.inputShapes;
    this.inputDtypes = node.inputDtypes;
  }
  input(i: number): Tensor {
    return this.node.saved('input', i);
  }
  output(i: number): Tensor {
    return this.node.saved('output', i);
  }
}

function execute(roots: ReadonlyArray<readonly [Node, number, Tensor]>, opts: RunOptions): void {
  const order = topoOrder(roots.map((r) => r[0]));
  const captures = opts.captures;
  const only = opts.onlyAccumulators;
  const needed =
    captures !== undefined || only !== undefined
      ? neededNodes(order, (n) => captures?.has(n) === true || only?.has(n) === true)
      : undefined;
  const owned = opts.createGraph ? undefined : new Set<Tensor>();
  for (const [node, index, g] of roots) {
    node.buffer ??= [];
    addInto(node.buffer, index, g, owned);
  }
  const was = isGradEnabled();
  setGradEnabled(opts.createGraph);
  try {
    for (const node of order) {
      const buf = node.buffer;
      node.buffer = undefined;
      if (buf === undefined) continue;
      // Tensor hooks and retained grads see the total gradient of each output.
      if (node.preHooks !== undefined || node.retained !== undefined) {
        for (let i = 0; i < buf.length; i++) {
          const g = buf[i];
          if (g === undefined) continue;
          const h = applyHooks(node.preHooks?.[i], g);
          buf[i] = h;
          const r = node.retained?.[i];
          if (r !== undefined) accumulateGrad(r, h, opts.createGraph);
        }
      }
      const caught = captures?.get(node);
      if (caught !== undefined) for (const [index, slot] of caught) opts.results[slot] = buf[index];
      const leaf = node.variable;
      if (leaf !== undefined) {
        const g = buf[0];
        if (opts.accumulate && g !== undefined && (only === undefined || only.has(node))) {
          accumulateGrad(leaf, g, opts.createGraph);
        }
        continue;
      }
      if (needed !== undefined && !needed.has(node)) continue;
      const grads: (Tensor | undefined)[] = [];
      for (let i = 0; i < node.outputShapes.length; i++) {
        const dtype = node.outputDtypes[i];
        const g = buf[i];
        grads.push(
          g ??
            (dtype === undefined
              ? undefined
              : zeros(node.outputShapes[i] as number[], { dtype, device: node.outputDevices[i]! })),
        );
      }
      const needs = node.next.map((c) => c !== undefined && (needed === undefined || needed.has(c)));
      const results = node.derivative!.backward(new Context(node, grads, needs));
      if (isAnomalyEnabled()) checkAnomaly(node, results);
      for (let i = 0; i < node.next.length; i++) {
        const child = node.next[i];
        const g = results[i];
        if (child === undefined || g === undefined || !needs[i]) continue;
        child.buffer ??= [];
        addInto(child.buffer, node.nextIndex[i]!, fitToInput(node, i, g), owned);
      }
      if (!opts.retainGraph) node.release();
    }
  } finally {
    setGradEnabled(was);
    for (const n of order) n.buffer = undefined;
  }
}

function checkAnomaly(node: Node, results: ReadonlyArray<Tensor | undefined>): void {
  results.forEach((g, i) => {
    if (g !== undefined && hasNaN(g)) {
      const where = node.stack === undefined ? '' : `\nThe forward op was created at:\n${node.stack}`;
      throw new GradfolioError(
        'ANOMALY',
        `Function '${node.name}' returned nan values in its ${i}th output (the derivative of the forward op '${node.op}').${where}`,
        { op: node.op, node: node.name, output: i },
      );
    }
  });
}

// ------------------------------------------------------------------------------------ public API

function asList<T>(v: T | readonly T[]): readonly T[] {
  return Array.isArray(v) ? (v as readonly T[]) : [v as T];
}

function rootsFor(
  fn: string,
  outputs: readonly Tensor[],
  gradOutputs: readonly (Tensor | undefined)[] | undefined,
): Array<[Node, number, Tensor]> {
  if (gradOutputs !== undefined && gradOutputs.length !== outputs.length) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${fn}: got ${gradOutputs.length} gradients for ${outputs.length} outputs; pass one per output`,
      { op: fn },
    );
  }
  return outputs.map((t, i) => {
    t.assertAlive(fn);
    if (!t.requiresGrad) {
      throw new GradfolioError(
        'NO_GRAD',
        `${fn}: element ${i} of tensors does not require grad and does not have a gradFn. Call requiresGrad_() on the inputs you differentiate with respect to, and do not compute the output inside noGrad().`,
        { op: fn, shapes: [t.shape] },
      );
    }
    let g = gradOutputs?.[i];
    if (g === undefined) {
      if (t.numel !== 1) {
        throw new GradfolioError(
          'NOT_SCALAR',
          `${fn}: grad can be implicitly created only for scalar outputs, but output ${i} has shape ${shapeStr(t.shape)}. Reduce it first (e.g. loss.mean()) or pass the gradient explicitly.`,
          { op: fn, shapes: [t.shape] },
        );
      }
      g = tensor(1, { dtype: t.dtype, device: t.device }).expand(t.shape as number[]);
    } else if (!sameShape(g.shape, t.shape)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${fn}: Mismatch in shape: grad_output[${i}] has a shape of ${shapeStr(g.shape)} and output[${i}] has a shape of ${shapeStr(t.shape)}.`,
        { op: fn, shapes: [g.shape, t.shape] },
      );
    } else if (g.dtype !== t.dtype && isFloating(t.dtype)) {
      g = g.to({ dtype: t.dtype });
    }
    const [node, index] = edgeOf(t);
    return [node, index, g] as [Node, number, Tensor];
  });
}

/** Options of {@link backward}. */
export interface BackwardOptions {
  /** Keep saved tensors so the graph can be differentiated again (default: `createGraph`). */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order derivatives (default false). */
  createGraph?: boolean;
  /** Only accumulate into these leaves (default: every leaf of the graph). */
  inputs?: readonly Tensor[];
}

/**
 * Computes the gradients of `tensors` with respect to the graph's leaves and accumulates them into
 * each leaf's `grad` (PyTorch's `torch.autograd.backward`). `t.backward(g, options)` calls this.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3]).requiresGrad_();
 * backward(x.mul(x).sum());
 * x.grad?.toString(); // 'tensor([2., 4., 6.])'
 * ```
 */
export function backward(
  tensors: Tensor | readonly Tensor[],
  gradTensors?: Tensor | readonly (Tensor | undefined)[],
  options: BackwardOptions = {},
): void {
  const outs = asList(tensors);
  const grads = gradTensors === undefined ? undefined : asList(gradTensors);
  const roots = rootsFor('backward', outs, grads);
  const createGraph = options.createGraph ?? false;
  let only: Set<Node> | undefined;
  if (options.inputs !== undefined) {
    only = new Set();
    for (const t of options.inputs) {
      if (!t.requiresGrad) {
        throw new GradfolioError(
          'NO_GRAD',
          `backward: an input of shape ${shapeStr(t.shape)} does not require grad`,
          {
            op: 'backward',
            shapes: [t.shape],
          },
        );
      }
      const [n] = edgeOf(t);
      if (n.variable === undefined) {
        n.retained ??= [];
        n.retained[(t._autograd as Meta | undefined)?.index ?? 0] = t;
      }
      only.add(n);
    }
  }
  execute(roots, {
    retainGraph: options.retainGraph ?? createGraph,
    createGraph,
    accumulate: true,
    onlyAccumulators: only,
    captures: undefined,
    results: [],
  });
}

/** Options of {@link grad}. */
export interface GradOptions {
  /** The gradient of each output ("vector" of the vector-Jacobian product); default ones for scalars. */
  gradOutputs?: Tensor | readonly (Tensor | undefined)[];
  /** Keep saved tensors for another backward (default: `createGraph`). */
  retainGraph?: boolean;
  /** Record the gradient computation so the results can be differentiated again. */
  createGraph?: boolean;
  /** Return `undefined` for inputs the outputs do not depend on instead of throwing. */
  allowUnused?: boolean;
}

/**
 * The gradients of `outputs` with respect to `inputs`, returned instead of accumulated into `.grad`
 * (PyTorch's `torch.autograd.grad`). With `createGraph` the results carry a graph, so they can appear
 * in a loss and be differentiated again (higher-order derivatives).
 *
 * @example
 * ```ts
 * const x = linspace(0, 2, 5).requiresGrad_();
 * const y = x.pow(3);
 * const [dydx] = grad(y, x, { gradOutputs: onesLike(y) }); // [0, 0.75, 3, 6.75, 12]
 * const [d2] = grad(grad(x.pow(3).sum(), x, { createGraph: true })[0]!.sum(), x); // 6x
 * ```
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  options: GradOptions = {},
): (Tensor | undefined)[] {
  const outs = asList(outputs);
  const ins = asList(inputs);
  const gos = options.gradOutputs === undefined ? undefined : asList(options.gradOutputs);
  const roots = rootsFor('grad', outs, gos);
  const captures = new Map<Node, Array<[number, number]>>();
  ins.forEach((t, slot) => {
    t.assertAlive('grad');
    if (!t.requiresGrad) {
      throw new GradfolioError(
        'NO_GRAD',
        `grad: input ${slot} (shape ${shapeStr(t.shape)}) does not require grad; call requiresGrad_() on it before computing the outputs`,
        { op: 'grad', shapes: [t.shape] },
      );
    }
    const [n, index] = edgeOf(t);
    let list = captures.get(n);
    if (list === undefined) {
      list = [];
      captures.set(n, list);
    }
    list.push([index, slot]);
  });
  const results: (Tensor | undefined)[] = new Array(ins.length).fill(undefined);
  const createGraph = options.createGraph ?? false;
  execute(roots, {
    retainGraph: options.retainGraph ?? createGraph,
    createGraph,
    accumulate: false,
    onlyAccumulators: undefined,
    captures,
    results,
  });
  results.forEach((r, i) => {
    if (r === undefined && options.allowUnused !== true) {
      throw new GradfolioError(
        'UNUSED_INPUT',
        `grad: input ${i} (shape ${shapeStr(ins[i]!.shape)}) was not used to compute the outputs (one of the differentiated tensors appears to not have been used in the graph). Pass allowUnused: true if this is the desired behavior.`,
        { op: 'grad', shapes: [ins[i]!.shape] },
      );
    }
    // Without createGraph the results must not carry a graph, even when the inputs were leaves.
    if (r !== undefined && !createGraph && r.requiresGrad) results[i] = r.detach();
  });
  return results;
}

/**
 * Registers `hook` on `t`'s gradient: it runs when the gradient is computed and may return a
 * replacement. Returns a handle whose `remove()` unregisters it. `t.registerHook(fn)` calls this.
 *
 * @example
 * ```ts
 * const h = registerHook(w, (g) => g.clamp(-1, 1)); // clip this tensor's gradient
 * h.remove();
 * ```
 */
export function registerHook(
  t: Tensor,
  hook: TensorHook,
): {
  /** Unregisters the hook. */
  remove(): void;
} {
  if (!t.requiresGrad) {
    throw new GradfolioError(
      'NO_GRAD',
      "registerHook: cannot register a hook on a tensor that doesn't require gradient",
      { op: 'registerHook', shapes: [t.shape] },
    );
  }
  const [n, index] = edgeOf(t);
  return { remove: n.addHook(index, hook) };
}

/** `t.retainGrad()`: a non-leaf keeps its gradient in `grad`. @internal */
export function retainGrad(t: Tensor): void {
  if (!t.requiresGrad) {
    throw new GradfolioError(
      'NO_GRAD',
      "retainGrad: can't retain the gradient of a tensor that does not require grad",
      {
        op: 'retainGrad',
        shapes: [t.shape],
      },
    );
  }
  if (t.gradFn === undefined) return;
  const [n, index] = edgeOf(t);
  n.retained ??= [];
  n.retained[index] = t;
}

// ----------------------------------------------------------------------------------- in place

/** Before `t` is modified in place: the leaf checks. @internal */
export function beforeInplace(t: Tensor, op: string): void {
  if (!isGradEnabled()) return;
  if (t.requiresGrad && t.gradFn === undefined) {
    throw new GradfolioError(
      'INPLACE_ERROR',
      `${op}: a leaf tensor that requires grad (shape ${shapeStr(t.shape)}) is being used in an in-place operation. Update parameters inside noGrad(() => ...), as optimizers do, or use the out-of-place op.`,
      { op, shapes: [t.shape] },
    );
  }
  const base = t.base;
  if (base?.requiresGrad && base.gradFn === undefined) {
    throw new GradfolioError(
      'INPLACE_ERROR',
      `${op}: a view of a leaf tensor that requires grad (shape ${shapeStr(base.shape)}) is being used in an in-place operation. Do it inside noGrad(() => ...) or clone() the leaf first.`,
      { op, shapes: [t.shape, base.shape] },
    );
  }
}

function adopt(t: Tensor, node: Node | undefined, index: number): void {
  if (node === undefined) {
    t.gradFn = undefined;
    t._setRequiresGrad(false);
    t._autograd = undefined;
    return;
  }
  t.gradFn = node;
  t._autograd = metaFor(index);
  t._setRequiresGrad(true);
}

/** Storage offsets of `view`'s elements relative to `base`'s first element, row-major. */
function regionIndex(view: Tensor, base: Tensor): number[] {
  const out: number[] = [];
  const shape = view.shape;
  const strides = view.strides;
  const start = view.offset - base.offset;
  const n = view.numel;
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = start;
    for (let d = 0; d < shape.length; d++) off += idx[d]! * strides[d]!;
    out.push(off);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]! += 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** After `t` was overwritten with `result`'s values: `t` takes over `result`'s history. @internal */
export function afterInplace(t: Tensor, result: Tensor, _op: string): void {
  if (!isGradEnabled()) return;
  const base = t.base;
  if (base === undefined || base === t) {
    if (!result.requiresGrad) {
      adopt(t, undefined, 0);
      bumpGeneration(t);
      return;
    }
    const [node, index] = edgeOf(result);
    // The node saved `result` as an output: `t` now holds the same values, so save `t` instead.
    const outs = node.savedOutputs;
    if (outs !== undefined && outs[index] === result) {
      outs[index] = t;
      node.savedOutputVersions![index] = t.version;
    }
    adopt(t, node, index);
    bumpGeneration(t);
    return;
  }
  rebaseView(t, base, result);
}

function isDenseBase(base: Tensor): boolean {
  let expected = 1;
  for (let d = base.ndim - 1; d >= 0; d--) {
    if (base.shape[d] !== 1 && base.strides[d] !== expected) return false;
    expected *= base.shape[d]!;
  }
  return true;
}

/**
 * In place on a view: the base's history becomes "old base with the view's region replaced by
 * `result`" (PyTorch's CopySlices), and the view becomes a view of that new history.
 */
function rebaseView(view: Tensor, base: Tensor, result: Tensor): void {
  if (!isDenseBase(base)) {
    throw new GradfolioError(
      'UNSUPPORTED',
      `in-place operation on a view: autograd needs the view's base (shape ${shapeStr(base.shape)}) to be contiguous; clone() it first`,
      { op: 'inplace', shapes: [view.shape, base.shape] },
    );
  }
  const flat = regionIndex(view, base);
  const device = base.device;
  const index = tensor(flat, { dtype: 'int32', device }).reshape(view.shape as number[]);
  const keepData = new Array<number>(base.numel).fill(1);
  for (const k of flat) keepData[k] = 0;
  const keep = tensor(keepData, { dtype: base.dtype, device }).reshape(base.shape as number[]);
  const copySlices = new Node('CopySlices', 'copySlices', { index, keep }, copySlicesDerivative, 2);
  const inputs = [base, result];
  inputs.forEach((x, i) => {
    copySlices.inputShapes[i] = x.shape;
    copySlices.inputDtypes[i] = x.dtype;
    copySlices.inputDevices[i] = x.device;
    if (x.requiresGrad) [copySlices.next[i], copySlices.nextIndex[i]] = edgeOf(x);
  });
  copySlices.outputShapes.push(base.shape);
  copySlices.outputDtypes.push(base.dtype as DType);
  copySlices.outputDevices.push(device);
  adopt(base, copySlices, 0);
  bumpGeneration(base);
  attachView(view, base, index);
  viewGeneration.set(view, generation.get(base)!);
}

/** Makes `view`'s history "its region of `base`'s current history" (AsStridedBackward). */
function attachView(view: Tensor, base: Tensor, regionIdx?: Tensor): void {
  if (!isDenseBase(base)) {
    throw new GradfolioError(
      'UNSUPPORTED',
      `a view of a tensor modified in place: autograd needs the base (shape ${shapeStr(base.shape)}) to be contiguous; clone() it first`,
      { op: 'inplace', shapes: [view.shape, base.shape] },
    );
  }
  const device = base.device;
  const index =
    regionIdx ?? tensor(regionIndex(view, base), { dtype: 'int32', device }).reshape(view.shape as number[]);
  const [node, k] = edgeOf(base);
  const asStrided = new Node('AsStridedBackward0', 'asStrided', { index }, asStridedDerivative, 1);
  asStrided.inputShapes[0] = base.shape;
  asStrided.inputDtypes[0] = base.dtype;
  asStrided.inputDevices[0] = device;
  asStrided.next[0] = node;
  asStrided.nextIndex[0] = k;
  asStrided.outputShapes.push(view.shape);
  asStrided.outputDtypes.push(view.dtype);
  asStrided.outputDevices.push(device);
  adopt(view, asStrided, 0);
}

const copySlicesDerivative: Derivative = {
  name: 'CopySlices',
  save: 'none',
  backward: (ctx) => {
    const g = ctx.grads[0]!;
    const index = ctx.attrs.index as Tensor;
    const keep = ctx.attrs.keep as Tensor;
    return [
      ctx.needs[0] ? g.mul(keep) : undefined,
      ctx.needs[1]
        ? g
            .reshape(-1)
            .gather(0, index.reshape(-1))
            .reshape(index.shape as number[])
        : undefined,
    ];
  },
};

const asStridedDerivative: Derivative = {
  name: 'AsStridedBackward0',
  save: 'none',
  backward: (ctx) => {
    const g = ctx.grads[0]!;
    const index = ctx.attrs.index as Tensor;
    const base = ctx.inputShapes[0]!;
    let n = 1;
    for (const s of base) n *= s;
    const flat = zeros([n], { dtype: g.dtype, device: g.device }).scatterAdd(
      0,
      index.reshape(-1),
      g.reshape(-1),
    );
    return [flat.reshape(base as number[])];
  },
};
