import {
  type DType,
  type GradFnLike,
  GradfolioError,
  type KernelAttrs,
  type OpRecord,
  type Shape,
  scopeDepth,
  Tensor,
} from '@gradfolio/tensor';

/**
 * What a derivative receives: the forward op's attributes, the gradients flowing into its outputs and
 * lazy, version-checked access to the tensors it saved.
 */
export interface DerivativeContext {
  /** The op-table name of the forward op. */
  readonly op: string;
  /** The forward op's attributes (dims, keepdim, alpha, ...). */
  readonly attrs: KernelAttrs;
  /**
   * The gradient with respect to each output: zeros for a floating output no gradient reached,
   * `undefined` for non-differentiable outputs (indices).
   */
  readonly grads: readonly (Tensor | undefined)[];
  /** Whether each input needs a gradient; a derivative may skip the others. */
  readonly needs: readonly boolean[];
  /** Shapes of the forward inputs (always available, nothing is saved for them). */
  readonly inputShapes: readonly Shape[];
  /** Dtypes of the forward inputs. */
  readonly inputDtypes: readonly DType[];
  /** Saved input `i`; throws if the graph was freed or the tensor was modified in place since. */
  input(i: number): Tensor;
  /** Saved output `i`; same checks as {@link DerivativeContext.input}. */
  output(i: number): Tensor;
}

/** Which forward tensors a derivative reads (only those are kept alive by the graph). */
export type SaveSpec = 'none' | 'inputs' | 'outputs' | 'both';

/**
 * One entry of the derivative table: how to turn output gradients into input gradients, written with
 * ordinary tensor ops so that every backend runs it and, with `createGraph`, it is differentiable
 * again. Returned gradients may have the broadcast output shape or another float dtype: the engine
 * sums broadcast dimensions away and casts to each input's shape and dtype.
 *
 * @example
 * ```ts
 * const mulDerivative: Derivative = {
 *   name: 'MulBackward0',
 *   save: 'inputs',
 *   backward: (ctx) => [
 *     ctx.needs[0] ? ctx.grads[0]!.mul(ctx.input(1)) : undefined,
 *     ctx.needs[1] ? ctx.grads[0]!.mul(ctx.input(0)) : undefined,
 *   ],
 * };
 * ```
 */
export interface Derivative {
  /** The node name users see as `gradFn.name` (PyTorch's, e.g. `MulBackward0`). */
  readonly name: string | ((rec: OpRecord) => string);
  /** What the forward pass must keep for this derivative. */
  readonly save: SaveSpec;
  /** Gradients with respect to each input (`undefined` where not needed or not differentiable). */
  backward(ctx: DerivativeContext): ReadonlyArray<Tensor | undefined>;
}

/** A tensor hook: sees the gradient of a tensor and may return a replacement. */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that only observes returns nothing.
export type TensorHook = (grad: Tensor) => Tensor | undefined | void;

let sequence = 0;

const unpinWhenCollected =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<Tensor[]>((list) => {
        for (const t of list) t._unpin();
      })
    : undefined;

const FREED_MESSAGE =
  'Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call backward() or grad(). Specify retainGraph: true if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.';

/**
 * A node of the backward graph (PyTorch's `grad_fn`): one recorded op, its saved tensors and the nodes
 * that produced its inputs. Leaves that require grad get an `AccumulateGrad` node.
 *
 * @example
 * ```ts
 * const y = x.mul(2).sum();
 * y.gradFn?.name; // 'SumBackward0'
 * (y.gradFn as Node).nextFunctions[0]?.[0]?.name; // 'MulBackward0'
 * ```
 */
export class Node implements GradFnLike {
  readonly name: string;
  /** The op-table name of the forward op. */
  readonly op: string;
  /** The forward op's attributes, as recorded. */
  readonly attrs: KernelAttrs;
  /** Creation order; later nodes run first when several are ready. */
  readonly seq: number;
  /** The derivative-table entry that computes this node's input gradients. */
  readonly derivative: Derivative | undefined;
  /** For each input: the node that gets its gradient, or undefined when it needs none. */
  readonly next: (Node | undefined)[];
  /** For each input: which output of `next[i]` it is. */
  readonly nextIndex: number[];
  /** Shape of each input, for checking and reducing gradients. */
  readonly inputShapes: Shape[];
  /** Dtype of each input (gradients are cast to it). */
  readonly inputDtypes: DType[];
  /** Device of each input. */
  readonly inputDevices: string[];
  /** Shape of each output (checks the incoming gradients). */
  readonly outputShapes: Shape[];
  /** Dtype of each output (undefined for index outputs). */
  readonly outputDtypes: (DType | undefined)[];
  /** Device of each output. */
  readonly outputDevices: string[];
  /** The leaf this node accumulates into (AccumulateGrad nodes only). */
  readonly variable: Tensor | undefined;
  /** The inputs the derivative needs, saved by the forward (undefined once freed). */
  savedInputs: (Tensor | undefined)[] | undefined;
  /** Storage versions of the saved inputs when saved (in-place modification check). */
  savedInputVersions: number[] | undefined;
  /** The outputs the derivative needs, saved by the forward (undefined once freed). */
  savedOutputs: (Tensor | undefined)[] | undefined;
  /** Storage versions of the saved outputs when saved. */
  savedOutputVersions: number[] | undefined;
  /** Set once backward released the saved tensors. */
  freed = false;
  /** Hooks per output index (tensor hooks of the outputs). */
  preHooks: TensorHook[][] | undefined;
  /** Non-leaf outputs that keep their `grad` (`retainGrad()`), per output index. */
  retained: (Tensor | undefined)[] | undefined;
  /** Where the forward op ran (anomaly mode only). */
  stack: string | undefined;
  /** Tensors pinned for this node until {@link Node.release}. @internal */
  pinned: Tensor[] | undefined;
  /** Gradient buffer of a running backward pass. @internal */
  buffer: (Tensor | undefined)[] | undefined;

  constructor(
    name: string,
    op: string,
    attrs: KernelAttrs,
    derivative: Derivative | undefined,
    nInputs: number,
    variable?: Tensor,
  ) {
    this.name = name;
    this.op = op;
    this.attrs = attrs;
    this.seq = sequence++;
    this.derivative = derivative;
    this.next = new Array(nInputs);
    this.nextIndex = new Array(nInputs).fill(0);
    this.inputShapes = new Array(nInputs);
    this.inputDtypes = new Array(nInputs);
    this.inputDevices = new Array(nInputs);
    this.outputShapes = [];
    this.outputDtypes = [];
    this.outputDevices = [];
    this.variable = variable;
  }

  /**
   * PyTorch's `next_functions`: for each input, the node its gradient goes to and the output index
   * there (or `undefined` for inputs that need no gradient).
   */
  get nextFunctions(): ReadonlyArray<readonly [Node, number] | undefined> {
    return this.next.map((n, i) => (n === undefined ? undefined : ([n, this.nextIndex[i]!] as const)));
  }

  /** Registers a hook on output `index`'s gradient. @internal */
  addHook(index: number, hook: TensorHook): () => void {
    this.preHooks ??= [];
    this.preHooks[index] ??= [];
    const list = this.preHooks[index];
    list.push(hook);
    return () => {
      const k = list.indexOf(hook);
      if (k >= 0) list.splice(k, 1);
    };
  }

  /**
   * Pins the tensors this node keeps (saved inputs and outputs, tensors in its attributes such as a
   * fused op's workspace), so that a scope ending before the backward pass does not free them.
   * @internal
   */
  pinSaved(): void {
    // Only a scope can dispose a tensor out from under the graph: outside scopes, nothing to do (this
    // runs for every recorded op).
    if (scopeDepth() === 0) return;
    const list: Tensor[] = [];
    const add = (t: unknown): void => {
      if (t instanceof Tensor) list.push(t);
    };
    for (const t of this.savedInputs ?? []) add(t);
    for (const t of this.savedOutputs ?? []) add(t);
    for (const v of Object.values(this.attrs)) add(v);
    if (list.length === 0) return;
    for (const t of list) t._pin();
    this.pinned = list;
    // A graph that is never run back still lets go of GPU tensors once it is garbage collected.
    if (list.some((t) => t.backend.gcManaged !== true)) unpinWhenCollected?.register(this, list, this);
  }

  /** Drops the saved tensors (after a backward without `retainGraph`). */
  release(): void {
    if (this.pinned !== undefined) {
      unpinWhenCollected?.unregister(this);
      for (const t of this.pinned) t._unpin();
      this.pinned = undefined;
    }
    if (this.savedInputs === undefined && this.savedOutputs === undefined) return;
    this.savedInputs = undefined;
    this.savedOutputs = undefined;
    this.freed = true;
  }

  /** A saved tensor with the graph-freed and version checks. @internal */
  saved(kind: 'input' | 'output', i: number): Tensor {
    const list = kind === 'input' ? this.savedInputs : this.savedOutputs;
    const versions = kind === 'input' ? this.savedInputVersions : this.savedOutputVersions;
    if (list === undefined) {
      if (this.freed)
        throw new GradfolioError('GRAPH_FREED', `${this.name}: ${FREED_MESSAGE}`, { op: this.op });
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${this.name}: the derivative of '${this.op}' read its ${kind} ${i}, which its table entry does not save; please report this as a bug`,
        { op: this.op },
      );
    }
    const t = list[i];
    if (t === undefined) {
      throw new GradfolioError('INVALID_ARGUMENT', `${this.name}: no saved ${kind} ${i}`, { op: this.op });
    }
    const expected = versions![i]!;
    if (t.version !== expected) {
      throw new GradfolioError(
        'INPLACE_ERROR',
        `one of the variables needed for gradient computation has been modified by an inplace operation: [${t.dtype} [${t.shape.join(', ')}]], which is ${kind} ${i} of ${this.name} (the forward op '${this.op}'), is at version ${t.version}; expected version ${expected} instead. Use an out-of-place op (e.g. x.add(y) instead of x.add_(y)) or clone() the tensor before modifying it.`,
        { op: this.op, node: this.name, shapes: [t.shape], version: t.version, expected },
      );
    }
    return t;
  }
}
