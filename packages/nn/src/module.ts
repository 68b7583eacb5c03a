/**
 * `Module` and `Parameter`: the base class of every layer, with PyTorch's registration, traversal,
 * state-dict and repr semantics.
 *
 * Registration is explicit (TypeScript cannot intercept property assignment without a `Proxy`):
 *
 * ```ts
 * class Affine extends Module {
 *   weight: Tensor;
 *   constructor(n: number) {
 *     super();
 *     this.weight = this.registerParameter('weight', ones([n]));
 *   }
 *   forward(x: Tensor): Tensor {
 *     return x.mul(this.weight);
 *   }
 * }
 * ```
 *
 * @module
 */

import { noGrad, zeroGrad } from '@gradfolio/autograd';
import { DTYPES, type DType, GradfolioError, isFloating, keep, Tensor } from '@gradfolio/tensor';

// ---------------------------------------------------------------------------------------------- Parameter

const PARAMETERS = new WeakSet<Tensor>();
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A tensor registered as a module parameter. `Tensor` has a private constructor, so a parameter is an
 * ordinary leaf tensor marked by {@link parameter} (test with {@link isParameter}); this alias only
 * documents intent.
 *
 * @example
 * ```ts
 * const w: Parameter = parameter(randn([3, 2]));
 * ```
 */
export type Parameter = Tensor;

/**
 * Marks `data` as a parameter (PyTorch's `nn.Parameter(data, requires_grad)`): a leaf that requires
 * grad (unless `requiresGrad` is false) and prints as `Parameter containing:`. A tensor produced by a
 * recorded op is detached first (the result is then a new tensor); a leaf is marked in place and
 * returned.
 *
 * @example
 * ```ts
 * const w = parameter(randn([10, 1]));
 * isParameter(w); // true
 * w.requiresGrad; // true
 * ```
 */
export function parameter(data: Tensor, requiresGrad = true): Parameter {
  const t = data.isLeaf ? data : data.detach();
  if (requiresGrad && !isFloating(t.dtype)) {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `parameter: only tensors of floating point dtype can require gradients (got ${t.dtype})`,
      { op: 'parameter', dtype: t.dtype },
    );
  }
  t.requiresGrad = requiresGrad;
  if (!PARAMETERS.has(t)) {
    PARAMETERS.add(t);
    const repr = (): string => `Parameter containing:\n${Tensor.prototype.toString.call(t)}`;
    Object.defineProperty(t, 'toString', { value: repr, configurable: true, writable: true });
    Object.defineProperty(t, INSPECT, { value: repr, configurable: true, writable: true });
  }
  return t;
}

/**
 * True when `t` was made a parameter by {@link parameter} (or by `Module.registerParameter`).
 *
 * @example
 * ```ts
 * isParameter(new Linear(2, 3).weight); // true
 * isParameter(randn([2])); // false
 * ```
 */
export function isParameter(t: unknown): t is Parameter {
  return t instanceof Tensor && PARAMETERS.has(t);
}

// ---------------------------------------------------------------------------------------------- Module

/** Any module, whatever its `forward` signature. */
export type AnyModule = Module<any[], any>;

/** Target of {@link Module.to}: a device name, a dtype name, or both. */
export type ModuleToTarget =
  | string
  | {
      /** Device to move the parameters and buffers to (`'cpu'`, `'webgpu'`). */
      device?: string;
      /** Floating dtype to cast floating parameters and buffers to. */
      dtype?: DType;
    };

/** Result of {@link Module.loadStateDict}. */
export interface LoadStateDictResult {
  /** Keys of the module that the dict did not provide. */
  missingKeys: string[];
  /** Keys of the dict that the module does not have. */
  unexpectedKeys: string[];
}

/** A handle returned by hook registration; `remove()` unregisters the hook. */
export interface RemovableHandle {
  /** Unregisters the hook (calling it again does nothing). */
  remove(): void;
}

const DTYPE_NAMES = new Set<string>(DTYPES);

function parseTarget(target: ModuleToTarget): { device?: string; dtype?: DType } {
  if (typeof target === 'string') {
    return DTYPE_NAMES.has(target) ? { dtype: target as DType } : { device: target };
  }
  return target;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function addIndent(s: string, spaces: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  const pad = ' '.repeat(spaces);
  return [lines[0], ...lines.slice(1).map((l) => pad + l)].join('\n');
}

function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('.')) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${kind} name must be a non-empty string without ".", got ${JSON.stringify(name)}`,
      { op: kind, name },
    );
  }
}

/**
 * Base class of every neural-network module (PyTorch's `torch.nn.Module`).
 *
 * Subclasses implement {@link Module.forward} and register their state explicitly with
 * {@link Module.registerParameter}, {@link Module.registerBuffer} and {@link Module.registerModule},
 * each of which returns its argument so registration reads as an assignment:
 * `this.weight = this.registerParameter('weight', w)`. Registration order is preserved and defines the
 * order of `parameters()`, `stateDict()` and the repr, exactly as in PyTorch.
 *
 * Invocation: JavaScript objects cannot be made callable without returning a function (or a `Proxy`)
 * from the constructor, which breaks `instanceof`, class fields and type inference; so call a module as
 * `m.call(x)` (runs forward pre-hooks, `forward`, then forward hooks, like PyTorch's `m(x)`) or
 * `m.forward(x)` (no hooks).
 *
 * @typeParam In - the argument tuple of `forward`.
 * @typeParam Out - the result of `forward`.
 *
 * @example
 * ```ts
 * class MLP extends Module {
 *   fc1 = this.registerModule('fc1', new Linear(4, 8));
 *   fc2 = this.registerModule('fc2', new Linear(8, 1));
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.call(this.fc1.call(x).relu());
 *   }
 * }
 * const m = new MLP();
 * Object.keys(m.stateDict()); // ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
 * ```
 */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  /** Training mode flag (toggled by {@link Module.train} / {@link Module.eval}). */
  training = true;
  readonly #parameters = new Map<string, Tensor | undefined>();
  readonly #buffers = new Map<string, Tensor | undefined>();
  readonly #nonPersistent = new Set<string>();
  readonly #modules = new Map<string, AnyModule | undefined>();
  readonly #preHooks = new Map<number, (module: any, args: any) => unknown>();
  readonly #hooks = new Map<number, (module: any, args: any, output: any) => unknown>();
  #nextHookId = 0;

  /**
   * The computation of the module. Call it through {@link Module.call} to run hooks.
   *
   * @example
   * ```ts
   * const y = new Linear(2, 3).forward(randn([4, 2]));
   * ```
   */
  abstract forward(...args: In): Out;

  /**
   * Runs the module like PyTorch's `module(x)`: forward pre-hooks, `forward`, then forward hooks.
   *
   * @example
   * ```ts
   * const y = new Linear(2, 3).call(randn([4, 2]));
   * ```
   */
  call(...args: In): Out {
    let a = args;
    for (const hook of [...this.#preHooks.values()]) {
      const r = hook(this, a);
      if (r !== undefined) a = r as In;
    }
    let out = this.forward(...a);
    for (const hook of [...this.#hooks.values()]) {
      const r = hook(this, a, out);
      if (r !== undefined) out = r as Out;
    }
    return out;
  }

  /**
   * Registers a hook run by {@link Module.call} before `forward`; it may return replacement arguments.
   *
   * @example
   * ```ts
   * const h = m.registerForwardPreHook((_m, args) => console.log(args.length));
   * h.remove();
   * ```
   */
  registerForwardPreHook(
    // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only observes returns nothing.
    hook: (module: this, args: In) => In | undefined | void,
  ): RemovableHandle {
    const id = this.#nextHookId++;
    this.#preHooks.set(id, hook);
    return { remove: () => void this.#preHooks.delete(id) };
  }

  /**
   * Registers a hook run by {@link Module.call} after `forward`; it may return a replacement output.
   *
   * @example
   * ```ts
   * const h = m.registerForwardHook((_m, _args, out) => out.mul(2));
   * ```
   */
  registerForwardHook(
    // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only observes returns nothing.
    hook: (module: this, args: In, output: Out) => Out | undefined | void,
  ): RemovableHandle {
    const id = this.#nextHookId++;
    this.#hooks.set(id, hook);
    return { remove: () => void this.#hooks.delete(id) };
  }

  // -------------------------------------------------------------------------------------- registration

  #checkFree(kind: string, name: string, own: Map<string, unknown>): void {
    checkName(kind, name);
    for (const m of [this.#parameters, this.#buffers, this.#modules] as Map<string, unknown>[]) {
      if (m !== own && m.has(name)) {
        throw new GradfolioError('INVALID_ARGUMENT', `${kind}: attribute '${name}' already exists`, {
          op: kind,
          name,
        });
      }
    }
  }

  /**
   * Registers (or replaces) parameter `name` and returns it. A tensor that is not yet a parameter is
   * made one with {@link parameter} (a leaf requiring grad); an existing parameter keeps its
   * `requiresGrad`. `undefined` registers an empty slot (PyTorch's `None`), skipped by traversal.
   *
   * @example
   * ```ts
   * this.weight = this.registerParameter('weight', empty([out, inp]));
   * ```
   */
  registerParameter<T extends Tensor | undefined>(name: string, param: T): T {
    this.#checkFree('registerParameter', name, this.#parameters);
    if (param === undefined) {
      this.#parameters.set(name, undefined);
      return param;
    }
    // A module's state outlives any scope (`tidy`) it was built or updated in.
    const p = keep(isParameter(param) ? param : parameter(param));
    this.#parameters.set(name, p);
    return p as T;
  }

  /**
   * Registers (or replaces) buffer `name` (state that is not a parameter, e.g. running statistics) and
   * returns it. Non-persistent buffers are left out of {@link Module.stateDict}.
   *
   * @example
   * ```ts
   * this.runningMean = this.registerBuffer('running_mean', zeros([n]));
   * this.cache = this.registerBuffer('cache', zeros([n]), { persistent: false });
   * ```
   */
  registerBuffer<T extends Tensor | undefined>(
    name: string,
    tensor: T,
    options: { persistent?: boolean } = {},
  ): T {
    this.#checkFree('registerBuffer', name, this.#buffers);
    if (tensor !== undefined) keep(tensor);
    this.#buffers.set(name, tensor);
    if (options.persistent ?? true) this.#nonPersistent.delete(name);
    else this.#nonPersistent.add(name);
    return tensor;
  }

  /**
   * Registers (or replaces) submodule `name` and returns it; its state appears under `name.` prefixes.
   *
   * @example
   * ```ts
   * this.fc = this.registerModule('fc', new Linear(4, 2));
   * ```
   */
  registerModule<M extends AnyModule | undefined>(name: string, module: M): M {
    this.#checkFree('registerModule', name, this.#modules);
    this.#modules.set(name, module);
    return module;
  }

  /**
   * Alias of {@link Module.registerModule} (PyTorch's `add_module`).
   *
   * @example
   * ```ts
   * seq.addModule('head', new Linear(8, 1));
   * ```
   */
  addModule<M extends AnyModule | undefined>(name: string, module: M): M {
    return this.registerModule(name, module);
  }

  /**
   * The submodule at a dotted path (`''` is this module), PyTorch's `get_submodule`.
   *
   * @example
   * ```ts
   * net.getSubmodule('encoder.0');
   * ```
   */
  getSubmodule(target: string): AnyModule {
    if (target === '') return this;
    let mod: AnyModule = this;
    for (const part of target.split('.')) {
      const next = mod.#modules.get(part);
      if (next === undefined) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `getSubmodule: ${mod._getName()} has no attribute '${part}'`,
          {
            op: 'getSubmodule',
            target,
          },
        );
      }
      mod = next;
    }
    return mod;
  }

  /**
   * The parameter at a dotted path, PyTorch's `get_parameter`.
   *
   * @example
   * ```ts
   * net.getParameter('fc.weight');
   * ```
   */
  getParameter(target: string): Parameter {
    const i = target.lastIndexOf('.');
    const mod = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const name = target.slice(i + 1);
    const p = mod.#parameters.get(name);
    if (p === undefined) {
      throw new GradfolioError('INVALID_ARGUMENT', `getParameter: no parameter '${target}'`, {
        op: 'getParameter',
        target,
      });
    }
    return p;
  }

  /**
   * The buffer at a dotted path, PyTorch's `get_buffer`.
   *
   * @example
   * ```ts
   * net.getBuffer('bn.running_mean');
   * ```
   */
  getBuffer(target: string): Tensor {
    const i = target.lastIndexOf('.');
    const mod = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const b = mod.#buffers.get(target.slice(i + 1));
    if (b === undefined) {
      throw new GradfolioError('INVALID_ARGUMENT', `getBuffer: no buffer '${target}'`, {
        op: 'getBuffer',
        target,
      });
    }
    return b;
  }

  // -------------------------------------------------------------------------------------- traversal

  /**
   * `[name, module]` pairs of this module and all descendants (pre-order, each module once), with
   * dotted names; this module is `''` (or `prefix`).
   *
   * @example
   * ```ts
   * seq.namedModules().map(([n]) => n); // ['', '0', '1', '2']
   * ```
   */
  namedModules(options: { prefix?: string; removeDuplicate?: boolean } = {}): Array<[string, AnyModule]> {
    const out: Array<[string, AnyModule]> = [];
    const memo = new Set<AnyModule>();
    const dedup = options.removeDuplicate ?? true;
    const walk = (m: AnyModule, prefix: string): void => {
      if (dedup) {
        if (memo.has(m)) return;
        memo.add(m);
      }
      out.push([prefix, m]);
      for (const [name, child] of m.#modules) {
        if (child !== undefined) walk(child, prefix === '' ? name : `${prefix}.${name}`);
      }
    };
    walk(this, options.prefix ?? '');
    return out;
  }

  /**
   * This module and all descendants (pre-order, each once).
   *
   * @example
   * ```ts
   * seq.modules().length; // 4 for a Sequential of three layers
   * ```
   */
  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * `[name, child]` pairs of the direct submodules (each once, skipping empty slots).
   *
   * @example
   * ```ts
   * net.namedChildren().map(([n]) => n); // ['fc1', 'fc2']
   * ```
   */
  namedChildren(): Array<[string, AnyModule]> {
    const out: Array<[string, AnyModule]> = [];
    const seen = new Set<AnyModule>();
    for (const [name, m] of this.#modules) {
      if (m !== undefined && !seen.has(m)) {
        seen.add(m);
        out.push([name, m]);
      }
    }
    return out;
  }

  /**
   * The direct submodules.
   *
   * @example
   * ```ts
   * for (const c of net.children()) console.log(c.toString());
   * ```
   */
  children(): AnyModule[] {
    return this.namedChildren().map(([, m]) => m);
  }

  #namedMembers(
    get: (m: AnyModule) => Iterable<[string, Tensor | undefined]>,
    prefix: string,
    recurse: boolean,
  ): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const mods: Array<[string, AnyModule]> = recurse ? this.namedModules({ prefix }) : [[prefix, this]];
    for (const [modPrefix, m] of mods) {
      for (const [name, t] of get(m)) {
        if (t === undefined || seen.has(t)) continue;
        seen.add(t);
        out.push([modPrefix === '' ? name : `${modPrefix}.${name}`, t]);
      }
    }
    return out;
  }

  /**
   * `[name, parameter]` pairs with dotted names (`'fc.weight'`), each parameter once (shared
   * parameters appear under their first name), in registration order.
   *
   * @example
   * ```ts
   * new Linear(2, 3).namedParameters().map(([n]) => n); // ['weight', 'bias']
   * ```
   */
  namedParameters(options: { prefix?: string; recurse?: boolean } = {}): Array<[string, Parameter]> {
    return this.#namedMembers((m) => m.#parameters, options.prefix ?? '', options.recurse ?? true);
  }

  /**
   * The parameters (of descendants too unless `recurse: false`), e.g. for an optimizer.
   *
   * @example
   * ```ts
   * const opt = new SGD(model.parameters(), { lr: 0.1 });
   * ```
   */
  parameters(options: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(options).map(([, p]) => p);
  }

  /**
   * `[name, buffer]` pairs with dotted names (persistent or not).
   *
   * @example
   * ```ts
   * bn.namedBuffers().map(([n]) => n);
   * ```
   */
  namedBuffers(options: { prefix?: string; recurse?: boolean } = {}): Array<[string, Tensor]> {
    return this.#namedMembers((m) => m.#buffers, options.prefix ?? '', options.recurse ?? true);
  }

  /**
   * The buffers (of descendants too unless `recurse: false`).
   *
   * @example
   * ```ts
   * model.buffers().length;
   * ```
   */
  buffers(options: { recurse?: boolean } = {}): Tensor[] {
    return this.namedBuffers(options).map(([, b]) => b);
  }

  // -------------------------------------------------------------------------------------- modes

  /**
   * Sets training mode on this module and all descendants; returns this.
   *
   * @example
   * ```ts
   * model.train(); // dropout active
   * ```
   */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.children()) m.train(mode);
    return this;
  }

  /**
   * Evaluation mode (`train(false)`); returns this.
   *
   * @example
   * ```ts
   * model.eval(); // dropout is the identity
   * ```
   */
  eval(): this {
    return this.train(false);
  }

  /**
   * Sets `requiresGrad` on every parameter (freezing with `false`); returns this.
   *
   * @example
   * ```ts
   * backbone.requiresGrad_(false);
   * ```
   */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /**
   * Resets the gradients of every parameter: drops them by default (`setToNone: true`, PyTorch 2's
   * default), or zeroes them in place with `{ setToNone: false }`.
   *
   * @example
   * ```ts
   * model.zeroGrad();
   * ```
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    zeroGrad(this.parameters(), options);
  }

  /**
   * Applies `fn` to every descendant, then to this module (PyTorch's order); returns this.
   *
   * @example
   * ```ts
   * model.apply((m) => { if (m instanceof Linear) init.zeros_(m.weight); });
   * ```
   */
  apply(fn: (module: AnyModule) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  // -------------------------------------------------------------------------------------- devices

  /**
   * Replaces every parameter and buffer (recursively) by `fn(tensor)` when that returns a different
   * tensor. Parameters stay parameters, leaves, keep `requiresGrad`, and carry their gradient through
   * `fn`; any own property of a module that referenced the old tensor (`this.weight`) is updated.
   * @internal
   */
  _applyTensors(fn: (t: Tensor) => Tensor): this {
    for (const m of this.children()) m._applyTensors(fn);
    const replace = (oldT: Tensor, newT: Tensor): void => {
      const self = this as unknown as Record<string, unknown>;
      for (const key of Object.keys(self)) if (self[key] === oldT) self[key] = newT;
    };
    for (const [name, p] of this.#parameters) {
      if (p === undefined) continue;
      const moved = noGrad(() => fn(p));
      if (moved === p) continue;
      const np = parameter(moved === p ? p : moved.detach(), false);
      np.requiresGrad = p.requiresGrad;
      if (p.grad !== undefined) np.grad = keep(noGrad(() => fn(p.grad as Tensor)).detach());
      this.#parameters.set(name, keep(np));
      replace(p, np);
    }
    for (const [name, b] of this.#buffers) {
      if (b === undefined) continue;
      const moved = noGrad(() => fn(b));
      if (moved === b) continue;
      this.#buffers.set(name, keep(moved));
      replace(b, moved);
    }
    return this;
  }

  /**
   * Moves and/or casts parameters and buffers: `to('webgpu')`, `to('float64')`,
   * `to({ device, dtype })`. A dtype applies to floating tensors only (as in PyTorch). `Tensor` storage
   * is immutable, so a tensor that actually changes is replaced by a new parameter (a leaf keeping
   * `requiresGrad` and its moved `grad`) registered under the same name, and the module's own property
   * holding it is updated; tensors already on the target are kept as they are. Build optimizers after
   * `to()`. Returns this.
   *
   * @example
   * ```ts
   * const model = new Linear(2, 3).to('float64');
   * model.weight.dtype; // 'float64'
   * ```
   */
  to(target: ModuleToTarget): this {
    const { device, dtype } = parseTarget(target);
    return this._applyTensors((t) => {
      const spec: { device?: string; dtype?: DType } = {};
      if (device !== undefined) spec.device = device;
      if (dtype !== undefined && isFloating(t.dtype)) spec.dtype = dtype;
      return spec.device === undefined && spec.dtype === undefined ? t : t.to(spec);
    });
  }

  /**
   * Moves everything to the CPU.
   *
   * @example
   * ```ts
   * model.cpu();
   * ```
   */
  cpu(): this {
    return this.to({ device: 'cpu' });
  }

  /**
   * Casts floating parameters and buffers to float32.
   *
   * @example
   * ```ts
   * model.float();
   * ```
   */
  float(): this {
    return this.to({ dtype: 'float32' });
  }

  /**
   * Casts floating parameters and buffers to float64.
   *
   * @example
   * ```ts
   * model.double();
   * ```
   */
  double(): this {
    return this.to({ dtype: 'float64' });
  }

  // -------------------------------------------------------------------------------------- state dict

  /**
   * The module's state as `{ dottedName: tensor }` in PyTorch's order and with PyTorch's keys
   * (`'0.weight'`, `'fc.bias'`): each module's parameters, then its persistent buffers, then its
   * children's. Tensors are detached (sharing storage) unless `keepVars`.
   *
   * @example
   * ```ts
   * Object.keys(new Sequential(new Linear(1, 10), new Sigmoid(), new Linear(10, 1, { bias: false })).stateDict());
   * // ['0.weight', '0.bias', '2.weight']
   * ```
   */
  stateDict(options: { prefix?: string; keepVars?: boolean } = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    this.#saveTo(out, options.prefix ?? '', options.keepVars ?? false);
    return out;
  }

  #saveTo(out: Record<string, Tensor>, prefix: string, keepVars: boolean): void {
    for (const [name, p] of this.#parameters) {
      if (p !== undefined) out[prefix + name] = keepVars ? p : p.detach();
    }
    for (const [name, b] of this.#buffers) {
      if (b !== undefined && !this.#nonPersistent.has(name)) out[prefix + name] = keepVars ? b : b.detach();
    }
    for (const [name, m] of this.#modules) {
      if (m !== undefined) m.#saveTo(out, `${prefix}${name}.`, keepVars);
    }
  }

  /**
   * Copies `stateDict` into the parameters and persistent buffers (in place, without recording grad)
   * and returns `{ missingKeys, unexpectedKeys }`. Like PyTorch it throws a `STATE_DICT_MISMATCH`
   * `GradfolioError` listing missing and unexpected keys (only when `strict`, the default) and shape
   * mismatches (always), e.g. `Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight:
   * copying a param with shape [2, 3] from checkpoint, the shape in current model is [3, 2].`
   *
   * @example
   * ```ts
   * const b = new Linear(2, 3);
   * b.loadStateDict(a.stateDict());
   * ```
   */
  loadStateDict(
    stateDict: Readonly<Record<string, Tensor>>,
    options: { strict?: boolean } = {},
  ): LoadStateDictResult {
    const strict = options.strict ?? true;
    const missingKeys: string[] = [];
    const mismatches: string[] = [];
    const expected = new Set<string>();
    for (const [prefix, m] of this.namedModules()) {
      const pre = prefix === '' ? '' : `${prefix}.`;
      const locals: Array<[string, Tensor]> = [];
      for (const [n, p] of m.#parameters) if (p !== undefined) locals.push([n, p]);
      for (const [n, b] of m.#buffers) if (b !== undefined && !m.#nonPersistent.has(n)) locals.push([n, b]);
      for (const [name, local] of locals) {
        const key = pre + name;
        expected.add(key);
        const input = stateDict[key];
        if (input === undefined) {
          missingKeys.push(key);
          continue;
        }
        const same =
          input.shape.length === local.shape.length && input.shape.every((s, i) => s === local.shape[i]);
        if (!same) {
          mismatches.push(
            `size mismatch for ${key}: copying a param with shape ${fmtShape(input.shape)} from checkpoint, the shape in current model is ${fmtShape(local.shape)}.`,
          );
          continue;
        }
        noGrad(() => local.copy_(input));
      }
    }
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !expected.has(k));
    const errors: string[] = [];
    if (strict) {
      if (missingKeys.length > 0) {
        errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}. `);
      }
      if (unexpectedKeys.length > 0) {
        errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}. `);
      }
    }
    errors.push(...mismatches);
    if (errors.length > 0) {
      throw new GradfolioError(
        'STATE_DICT_MISMATCH',
        `Error(s) in loading state_dict for ${this._getName()}:\n\t${errors.join('\n\t')}`,
        { op: 'loadStateDict', missingKeys, unexpectedKeys, sizeMismatches: mismatches },
      );
    }
    return { missingKeys, unexpectedKeys };
  }

  // -------------------------------------------------------------------------------------- repr

  /**
   * The class name used in the repr (PyTorch's `_get_name`).
   * @internal
   */
  _getName(): string {
    return this.constructor.name;
  }

  /**
   * Extra text inside this module's repr parentheses (PyTorch's `extra_repr`); `''` by default. Layers
   * keep PyTorch's snake_case so reprs match: `in_features=1, out_features=10, bias=True`.
   *
   * @example
   * ```ts
   * new Linear(1, 10).extraRepr(); // 'in_features=1, out_features=10, bias=True'
   * ```
   */
  extraRepr(): string {
    return '';
  }

  /**
   * PyTorch's module repr: the class name, `extraRepr()`, and each child as `(name): repr`.
   *
   * @example
   * ```ts
   * new Sequential(new Linear(1, 2), new Sigmoid()).toString();
   * // 'Sequential(\n  (0): Linear(in_features=1, out_features=2, bias=True)\n  (1): Sigmoid()\n)'
   * ```
   */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra === '' ? [] : extra.split('\n');
    const childLines: string[] = [];
    for (const [key, m] of this.#modules) {
      childLines.push(`(${key}): ${addIndent(m === undefined ? 'None' : m.toString(), 2)}`);
    }
    const lines = [...extraLines, ...childLines];
    let s = `${this._getName()}(`;
    if (lines.length > 0) {
      if (extraLines.length === 1 && childLines.length === 0) s += extraLines[0];
      else s += `\n  ${lines.join('\n  ')}\n`;
    }
    return `${s})`;
  }

  /** Node's `console.log` prints the PyTorch-style repr. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // -------------------------------------------------------------------------------------- for containers

  /** The registered submodule slots, in order (empty slots included). @internal */
  protected get _modules(): ReadonlyMap<string, AnyModule | undefined> {
    return this.#modules;
  }

  /** Removes submodule `name` (containers use it). @internal */
  protected _deleteModule(name: string): boolean {
    return this.#modules.delete(name);
  }

  /** Removes every submodule (containers use it to re-key). @internal */
  protected _clearModules(): void {
    this.#modules.clear();
  }
}
