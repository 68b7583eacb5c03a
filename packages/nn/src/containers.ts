/**
 * Containers: `Sequential`, `ModuleList`, `ModuleDict` (PyTorch's names, keys and reprs).
 *
 * @module
 */

import { GradfolioError, type Tensor } from '@gradfolio/tensor';
import { type AnyModule, Module } from './module.js';

function normIndex(op: string, i: number, n: number): number {
  const j = i < 0 ? i + n : i;
  if (!Number.isInteger(i) || j < 0 || j >= n) {
    throw new GradfolioError('INDEX_OUT_OF_RANGE', `${op}: index ${i} is out of range`, {
      op,
      index: i,
      length: n,
    });
  }
  return j;
}

function isModule(x: unknown): x is AnyModule {
  return x instanceof Module;
}

/**
 * Chains modules: `forward(x)` feeds `x` through each in order. Children are keyed `'0'`, `'1'`, ...
 * (or by name when built from a record), so state-dict keys match PyTorch (`'0.weight'`). Index with
 * `seq.at(i)` / `seq.get(i)` (negative counts from the end); numeric property access (`seq[0]`) is not
 * provided because it needs a `Proxy`.
 *
 * @example
 * ```ts
 * const net = new Sequential(new Linear(1, 10), new Sigmoid(), new Linear(10, 1, { bias: false }));
 * net.call(randn([4, 1])).shape; // [4, 1]
 * Object.keys(net.stateDict()); // ['0.weight', '0.bias', '2.weight']
 * const named = new Sequential({ fc: new Linear(2, 2), act: new ReLU() });
 * ```
 */
export class Sequential extends Module implements Iterable<AnyModule> {
  constructor(...modules: AnyModule[] | [Record<string, AnyModule>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && first !== undefined && !isModule(first)) {
      for (const [name, m] of Object.entries(first as Record<string, AnyModule>))
        this.registerModule(name, m);
    } else {
      (modules as AnyModule[]).forEach((m, i) => {
        this.registerModule(String(i), m);
      });
    }
  }

  #list(): AnyModule[] {
    return [...this._modules.values()].filter((m): m is AnyModule => m !== undefined);
  }

  /** Number of modules. */
  get length(): number {
    return this._modules.size;
  }

  /**
   * The module at position `i` (negative from the end).
   *
   * @example
   * ```ts
   * net.at(-1);
   * ```
   */
  at(i: number): AnyModule {
    const entries = [...this._modules.values()];
    return entries[normIndex('Sequential.at', i, entries.length)] as AnyModule;
  }

  /**
   * Alias of {@link Sequential.at}.
   *
   * @example
   * ```ts
   * net.get(0);
   * ```
   */
  get(i: number): AnyModule {
    return this.at(i);
  }

  /**
   * Replaces the module at position `i` (keeping its key).
   *
   * @example
   * ```ts
   * net.set(1, new ReLU());
   * ```
   */
  set(i: number, module: AnyModule): this {
    const keys = [...this._modules.keys()];
    this.registerModule(keys[normIndex('Sequential.set', i, keys.length)] as string, module);
    return this;
  }

  /**
   * Appends `module` under the next index; returns this.
   *
   * @example
   * ```ts
   * net.append(new ReLU());
   * ```
   */
  append(module: AnyModule): this {
    this.registerModule(String(this.length), module);
    return this;
  }

  /**
   * Appends every module of `modules`; returns this.
   *
   * @example
   * ```ts
   * net.extend([new Linear(2, 2), new ReLU()]);
   * ```
   */
  extend(modules: Iterable<AnyModule>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /**
   * Inserts `module` at position `index` and renumbers (children keyed by position).
   *
   * @example
   * ```ts
   * net.insert(0, new Flatten());
   * ```
   */
  insert(index: number, module: AnyModule): this {
    const list = this.#list();
    const n = list.length;
    const j = index < 0 ? index + n : index;
    if (!Number.isInteger(index) || j < 0 || j > n) {
      throw new GradfolioError('INDEX_OUT_OF_RANGE', `Sequential.insert: index ${index} is out of range`, {
        op: 'Sequential.insert',
      });
    }
    list.splice(j, 0, module);
    this._clearModules();
    list.forEach((m, i) => {
      this.registerModule(String(i), m);
    });
    return this;
  }

  /**
   * Removes and returns the module at position `i` (keys are renumbered).
   *
   * @example
   * ```ts
   * const last = net.pop(-1);
   * ```
   */
  pop(i = -1): AnyModule {
    const list = this.#list();
    const [removed] = list.splice(normIndex('Sequential.pop', i, list.length), 1);
    this._clearModules();
    list.forEach((m, k) => {
      this.registerModule(String(k), m);
    });
    return removed as AnyModule;
  }

  /**
   * A new `Sequential` of positions `[start, end)` sharing the modules and keeping their keys
   * (PyTorch's `seq[a:b]`).
   *
   * @example
   * ```ts
   * const body = net.slice(0, -1);
   * ```
   */
  slice(start?: number, end?: number): Sequential {
    const entries = [...this._modules.entries()].slice(start, end);
    const out = new Sequential();
    for (const [k, m] of entries) out.registerModule(k, m);
    return out;
  }

  /** Iterates the modules in order. */
  [Symbol.iterator](): Iterator<AnyModule> {
    return this.#list()[Symbol.iterator]();
  }

  forward(input: Tensor): Tensor {
    let x: unknown = input;
    for (const m of this.#list()) x = m.call(x);
    return x as Tensor;
  }
}

/**
 * A list of submodules keyed `'0'`, `'1'`, ... (PyTorch's `nn.ModuleList`). It has no `forward`.
 *
 * @example
 * ```ts
 * const layers = new ModuleList([new Linear(2, 4), new Linear(4, 1)]);
 * layers.push(new ReLU());
 * for (const l of layers) console.log(l.toString());
 * layers.at(0); layers.length; // 3
 * ```
 */
export class ModuleList extends Module<[], never> implements Iterable<AnyModule> {
  constructor(modules: Iterable<AnyModule> = []) {
    super();
    this.extend(modules);
  }

  #list(): AnyModule[] {
    return [...this._modules.values()] as AnyModule[];
  }

  /** Number of modules. */
  get length(): number {
    return this._modules.size;
  }

  /**
   * The module at position `i` (negative from the end).
   *
   * @example
   * ```ts
   * layers.at(-1);
   * ```
   */
  at(i: number): AnyModule {
    const list = this.#list();
    return list[normIndex('ModuleList.at', i, list.length)] as AnyModule;
  }

  /**
   * Alias of {@link ModuleList.at}.
   *
   * @example
   * ```ts
   * layers.get(0);
   * ```
   */
  get(i: number): AnyModule {
    return this.at(i);
  }

  /**
   * Replaces the module at position `i`.
   *
   * @example
   * ```ts
   * layers.set(0, new Linear(2, 4));
   * ```
   */
  set(i: number, module: AnyModule): this {
    this.registerModule(String(normIndex('ModuleList.set', i, this.length)), module);
    return this;
  }

  /**
   * Appends modules; returns this.
   *
   * @example
   * ```ts
   * layers.push(new ReLU(), new Linear(4, 4));
   * ```
   */
  push(...modules: AnyModule[]): this {
    for (const m of modules) this.registerModule(String(this.length), m);
    return this;
  }

  /**
   * Appends one module (PyTorch's `append`); returns this.
   *
   * @example
   * ```ts
   * layers.append(new ReLU());
   * ```
   */
  append(module: AnyModule): this {
    return this.push(module);
  }

  /**
   * Appends every module of `modules`; returns this.
   *
   * @example
   * ```ts
   * layers.extend([new ReLU()]);
   * ```
   */
  extend(modules: Iterable<AnyModule>): this {
    for (const m of modules) this.push(m);
    return this;
  }

  /**
   * Inserts `module` before position `index` (keys are renumbered).
   *
   * @example
   * ```ts
   * layers.insert(0, new Flatten());
   * ```
   */
  insert(index: number, module: AnyModule): this {
    const list = this.#list();
    const n = list.length;
    const j = Math.min(Math.max(index < 0 ? index + n : index, 0), n);
    list.splice(j, 0, module);
    this._clearModules();
    for (const m of list) this.push(m);
    return this;
  }

  /**
   * Removes and returns the module at position `i` (keys are renumbered).
   *
   * @example
   * ```ts
   * layers.pop();
   * ```
   */
  pop(i = -1): AnyModule {
    const list = this.#list();
    const [removed] = list.splice(normIndex('ModuleList.pop', i, list.length), 1);
    this._clearModules();
    for (const m of list) this.push(m);
    return removed as AnyModule;
  }

  /** Iterates the modules in order. */
  [Symbol.iterator](): Iterator<AnyModule> {
    return this.#list()[Symbol.iterator]();
  }

  forward(): never {
    throw new GradfolioError('UNSUPPORTED', 'ModuleList has no forward(); iterate it and call its modules', {
      op: 'ModuleList.forward',
    });
  }
}

/**
 * Submodules keyed by name (PyTorch's `nn.ModuleDict`), in insertion order. It has no `forward`.
 *
 * @example
 * ```ts
 * const heads = new ModuleDict({ mean: new Linear(8, 1), logvar: new Linear(8, 1) });
 * heads.get('mean');
 * Object.keys(heads.stateDict()); // ['mean.weight', 'mean.bias', 'logvar.weight', 'logvar.bias']
 * ```
 */
export class ModuleDict extends Module<[], never> implements Iterable<string> {
  constructor(modules: Record<string, AnyModule> | Iterable<[string, AnyModule]> = {}) {
    super();
    this.update(modules);
  }

  /** Number of modules. */
  get size(): number {
    return this._modules.size;
  }

  /**
   * The module under `key`, or undefined.
   *
   * @example
   * ```ts
   * heads.get('mean');
   * ```
   */
  get(key: string): AnyModule | undefined {
    return this._modules.get(key);
  }

  /**
   * Adds or replaces the module under `key`; returns this.
   *
   * @example
   * ```ts
   * heads.set('scale', new Linear(8, 1));
   * ```
   */
  set(key: string, module: AnyModule): this {
    this.registerModule(key, module);
    return this;
  }

  /**
   * Whether `key` is present.
   *
   * @example
   * ```ts
   * heads.has('mean'); // true
   * ```
   */
  has(key: string): boolean {
    return this._modules.has(key);
  }

  /**
   * Removes and returns the module under `key` (PyTorch's `pop`).
   *
   * @example
   * ```ts
   * heads.pop('logvar');
   * ```
   */
  pop(key: string): AnyModule {
    const m = this._modules.get(key);
    if (!this._modules.has(key) || m === undefined) {
      throw new GradfolioError('INVALID_ARGUMENT', `ModuleDict.pop: no key '${key}'`, {
        op: 'ModuleDict.pop',
      });
    }
    this._deleteModule(key);
    return m;
  }

  /**
   * Removes every module.
   *
   * @example
   * ```ts
   * heads.clear();
   * ```
   */
  clear(): void {
    this._clearModules();
  }

  /**
   * Adds every `[key, module]` of a record, map or iterable of pairs; returns this.
   *
   * @example
   * ```ts
   * heads.update({ extra: new Linear(8, 2) });
   * ```
   */
  update(modules: Record<string, AnyModule> | Iterable<[string, AnyModule]>): this {
    const entries =
      Symbol.iterator in Object(modules)
        ? (modules as Iterable<[string, AnyModule]>)
        : Object.entries(modules as Record<string, AnyModule>);
    for (const [k, m] of entries) this.registerModule(k, m);
    return this;
  }

  /**
   * The keys in order.
   *
   * @example
   * ```ts
   * heads.keys(); // ['mean', 'logvar']
   * ```
   */
  keys(): string[] {
    return [...this._modules.keys()];
  }

  /**
   * The modules in order.
   *
   * @example
   * ```ts
   * heads.values().length;
   * ```
   */
  values(): AnyModule[] {
    return [...this._modules.values()] as AnyModule[];
  }

  /**
   * `[key, module]` pairs in order.
   *
   * @example
   * ```ts
   * for (const [k, m] of heads.entries()) console.log(k, m.toString());
   * ```
   */
  entries(): Array<[string, AnyModule]> {
    return [...this._modules.entries()] as Array<[string, AnyModule]>;
  }

  /** Iterates the keys (as PyTorch does). */
  [Symbol.iterator](): Iterator<string> {
    return this.keys()[Symbol.iterator]();
  }

  forward(): never {
    throw new GradfolioError('UNSUPPORTED', 'ModuleDict has no forward(); look up its modules', {
      op: 'ModuleDict.forward',
    });
  }
}
