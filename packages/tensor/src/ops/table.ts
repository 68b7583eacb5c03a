/**
 * The op table: every tensor operation of gradfolio is declared here once. Backends register kernels by
 * these names, autograd registers one derivative per differentiable recorded op, and the conformance
 * suite checks that every op has PyTorch fixtures.
 *
 * Kinds:
 * - `primitive`: a backend kernel of the same name does the work (see each entry's `kernel` contract).
 * - `structural`: recorded as one graph node but executed with other kernels (usually `copy`/`fill`),
 *   so every backend gets it for free.
 * - `view`: metadata only, shares storage; recorded for autograd.
 * - `composite`: written with other ops; autograd differentiates through its parts.
 * - `creation`: makes new tensors from host data or `fill`.
 * - `fused`: an optional fast path (a whole LSTM layer): a backend may register a kernel; without one
 *   the op runs its composite definition, which is also the reference in tests.
 */

/** How an op is executed. */
export type OpKind = 'primitive' | 'structural' | 'view' | 'composite' | 'creation' | 'fused';

/** Families used by backends and tests to group ops. */
export type OpTag =
  | 'unary'
  | 'binary'
  | 'ternary'
  | 'comparison'
  | 'logical'
  | 'reduction'
  | 'scan'
  | 'linalg'
  | 'index'
  | 'shape'
  | 'random'
  | 'cpu-only';

/** One entry of the op table. */
export interface OpDef {
  /** The op's name: kernel key, derivative key and fixture key. */
  readonly name: string;
  /** How the op is executed (see {@link OpKind}). */
  readonly kind: OpKind;
  /** Op families, used by backends and tests to group ops. */
  readonly tags: readonly OpTag[];
  /** Whether gradients flow through the op (comparisons, argmax, ... do not). */
  readonly differentiable: boolean;
  /** The result dtype rule, in words. */
  readonly dtype: string;
  /** For primitives: what the kernel receives and must write. */
  readonly kernel?: string;
  /** Extra names that map to this op in the public API (e.g. `mm` -> `matmul`). */
  readonly aliases?: readonly string[];
  /** For fused ops: runs its composite definition on backends without the kernel. */
  readonly compositeFallback?: boolean;
}

const table = new Map<string, OpDef>();

function def(
  name: string,
  kind: OpKind,
  tags: OpTag[],
  dtype: string,
  extra: { differentiable?: boolean; kernel?: string; aliases?: string[]; compositeFallback?: boolean } = {},
): void {
  const entry: OpDef = {
    name,
    kind,
    tags,
    dtype,
    differentiable: extra.differentiable ?? true,
    ...(extra.kernel !== undefined ? { kernel: extra.kernel } : {}),
    ...(extra.aliases !== undefined ? { aliases: extra.aliases } : {}),
    ...(extra.compositeFallback === true ? { compositeFallback: true } : {}),
  };
  table.set(name, entry);
}

const UNARY_KERNEL =
  'inputs [x] strided view in the compute dtype, same shape as the output; output contiguous; attrs as listed';
const BINARY_KERNEL =
  'inputs [a, b] already broadcast to the output shape (stride 0 on broadcast dims), both in the compute dtype; output contiguous';
const REDUCE_KERNEL =
  'inputs [x] strided; attrs.dims: sorted normalised dims to reduce (all dims if every dim is listed); output contiguous with the keepdim shape (reduced dims have size 1)';

// ---- memory and dtype ----
def('fill', 'primitive', [], 'the output dtype', {
  differentiable: false,
  kernel: 'no inputs; attrs.value: number; writes value to every element of the contiguous output',
});
def('copy', 'primitive', [], 'the output dtype (casts)', {
  kernel:
    'inputs [src] strided view; output: a strided view of the same shape (possibly overlapping nothing else); copies and casts element-wise (bool output: value != 0)',
});
def('cast', 'structural', [], 'attrs.dtype', { kernel: 'executed with copy' });
def('to', 'structural', [], 'same', { kernel: 'host transfer between backends (read + upload)' });
def('clone', 'structural', [], 'same', { aliases: ['contiguous'], kernel: 'executed with copy' });

// ---- unary pointwise ----
const floatUnary: Array<[string, string?]> = [
  ['exp'],
  ['log'],
  ['log1p'],
  ['expm1'],
  ['sqrt'],
  ['rsqrt'],
  ['sin'],
  ['cos'],
  ['tanh'],
  ['sigmoid'],
  ['gelu', "attrs.approximate: 'none' | 'tanh'"],
  ['softplus', 'attrs.beta, attrs.threshold (linear above threshold/beta)'],
  ['reciprocal'],
];
for (const [name, attrs] of floatUnary) {
  def(name, 'primitive', ['unary'], 'integers and bool promote to the default float dtype', {
    kernel: attrs ? `${UNARY_KERNEL}: ${attrs}` : UNARY_KERNEL,
  });
}
for (const name of ['neg', 'abs', 'sign', 'relu', 'floor', 'ceil', 'round', 'trunc']) {
  def(name, 'primitive', ['unary'], 'same as input', {
    kernel: UNARY_KERNEL,
  });
}
def('clamp', 'primitive', ['unary'], 'same as input (promoted with float bounds)', {
  kernel: `${UNARY_KERNEL}: attrs.min, attrs.max (number or null); NaN propagates`,
  aliases: ['clip'],
});
def('leakyRelu', 'primitive', ['unary'], 'same as input', { kernel: `${UNARY_KERNEL}: attrs.slope` });
def('elu', 'primitive', ['unary'], 'same as input', { kernel: `${UNARY_KERNEL}: attrs.alpha` });
for (const name of ['isnan', 'isfinite', 'isinf']) {
  def(name, 'primitive', ['unary'], 'bool', {
    kernel: `${UNARY_KERNEL}; output bool`,
    differentiable: false,
  });
}
def('logicalNot', 'primitive', ['unary', 'logical'], 'bool', {
  kernel: `${UNARY_KERNEL}; output bool`,
  differentiable: false,
});

// ---- binary pointwise ----
def('add', 'primitive', ['binary'], 'promoted', { kernel: `${BINARY_KERNEL}; attrs.alpha multiplies b` });
def('sub', 'primitive', ['binary'], 'promoted', { kernel: `${BINARY_KERNEL}; attrs.alpha multiplies b` });
def('mul', 'primitive', ['binary'], 'promoted', { kernel: BINARY_KERNEL });
def('div', 'primitive', ['binary'], 'promoted, integers to the default float dtype (true division)', {
  kernel: BINARY_KERNEL,
});
def('pow', 'primitive', ['binary'], 'promoted', { kernel: BINARY_KERNEL });
def('remainder', 'primitive', ['binary'], 'promoted', {
  kernel: `${BINARY_KERNEL}; sign of the divisor (Python %)`,
});
def('atan2', 'primitive', ['binary'], 'promoted, integers to float', { kernel: BINARY_KERNEL });
def('minimum', 'primitive', ['binary'], 'promoted', { kernel: `${BINARY_KERNEL}; NaN propagates` });
def('maximum', 'primitive', ['binary'], 'promoted', { kernel: `${BINARY_KERNEL}; NaN propagates` });
for (const name of ['eq', 'ne', 'lt', 'le', 'gt', 'ge']) {
  def(name, 'primitive', ['binary', 'comparison'], 'bool', {
    kernel: `${BINARY_KERNEL}; output bool`,
    differentiable: false,
  });
}
for (const name of ['logicalAnd', 'logicalOr', 'logicalXor']) {
  def(name, 'primitive', ['binary', 'logical'], 'bool', {
    kernel: `${BINARY_KERNEL}; output bool`,
    differentiable: false,
  });
}
for (const name of ['tanhBackward', 'sigmoidBackward']) {
  def(name, 'primitive', ['binary'], 'promoted, integers to float', {
    kernel: `${BINARY_KERNEL}; a is the output gradient, b the forward output (PyTorch's ${name === 'tanhBackward' ? 'tanh_backward' : 'sigmoid_backward'}); optional: autograd falls back to ordinary ops on backends without it`,
  });
}
def('where', 'primitive', ['ternary'], 'promoted of the two value operands', {
  kernel:
    'inputs [cond (bool), a, b] broadcast to the output shape, a and b in the output dtype; output contiguous',
});

// ---- reductions and scans ----
def('sum', 'primitive', ['reduction'], 'same; bool and int32 give int32', { kernel: REDUCE_KERNEL });
def('prod', 'primitive', ['reduction'], 'same; bool and int32 give int32', { kernel: REDUCE_KERNEL });
def('amax', 'primitive', ['reduction'], 'same', { kernel: `${REDUCE_KERNEL}; NaN propagates` });
def('amin', 'primitive', ['reduction'], 'same', { kernel: `${REDUCE_KERNEL}; NaN propagates` });
def('all', 'primitive', ['reduction', 'logical'], 'bool', { kernel: REDUCE_KERNEL, differentiable: false });
def('any', 'primitive', ['reduction', 'logical'], 'bool', { kernel: REDUCE_KERNEL, differentiable: false });
def('max', 'primitive', ['reduction'], 'values: same; indices: int32', {
  kernel:
    'inputs [x] strided; attrs.dim (one normalised dim); outputs [values, indices (int32)] contiguous, keepdim shape; first occurrence wins; NaN wins',
});
def('min', 'primitive', ['reduction'], 'values: same; indices: int32', { kernel: 'as max' });
def('argmax', 'primitive', ['reduction'], 'int32', {
  kernel: 'inputs [x] strided; attrs.dim; output int32 contiguous, keepdim shape; first occurrence wins',
  differentiable: false,
});
def('argmin', 'primitive', ['reduction'], 'int32', { kernel: 'as argmax', differentiable: false });
def('cumsum', 'primitive', ['scan'], 'same; bool and int32 give int32', {
  kernel: 'inputs [x] strided; attrs.dim; output contiguous, same shape',
});
def('cumprod', 'primitive', ['scan'], 'same; bool and int32 give int32', { kernel: 'as cumsum' });
def('mean', 'structural', ['reduction'], 'floating only', {
  kernel: 'executed as sum / count; recorded as one node',
});
def('var', 'composite', ['reduction'], 'floating only', {});
def('std', 'structural', ['reduction'], 'floating only', {
  kernel: 'executed as sqrt(var); recorded as one node (gradient 0 where std is 0, as in PyTorch)',
});
def('logsumexp', 'composite', ['reduction'], 'floating', {});
def('norm', 'structural', ['reduction'], 'floating', {
  kernel:
    'executed with abs/sum/pow/amax; p = 0 and p = 2 are recorded as one node (gradient 0 at the zero vector, as in PyTorch), other p through their parts',
});
def('softmax', 'composite', [], 'floating', {});
def('logSoftmax', 'composite', [], 'floating', {});

// ---- linear algebra ----
def('matmul', 'primitive', ['linalg'], 'promoted', {
  kernel:
    'inputs [a: [...batch, M, K], b: [...batch, K, N]] strided, same batch shape (stride 0 where broadcast), same dtype; output [...batch, M, N] contiguous',
  aliases: ['mm', 'bmm', 'dot', 'outer', 'addmm'],
});
def('cholesky', 'primitive', ['linalg', 'cpu-only'], 'floating', {
  kernel:
    'inputs [A: [...batch, n, n]] strided; attrs.upper; output [...batch, n, n] contiguous lower (or upper) factor',
});
def('solve', 'primitive', ['linalg', 'cpu-only'], 'floating', {
  kernel:
    'inputs [A: [...batch, n, n], B: [...batch, n, k]] strided, same batch; output X [...batch, n, k] contiguous (partial pivoting)',
});
def('inverse', 'primitive', ['linalg', 'cpu-only'], 'floating', {
  kernel: 'inputs [A: [...batch, n, n]] strided; output [...batch, n, n] contiguous',
});

// ---- indexing and shape ----
def('gather', 'primitive', ['index'], 'same as input', {
  kernel: 'inputs [x, index (int32)] strided, same ndim; attrs.dim; output shape of index, contiguous',
});
def('scatter', 'primitive', ['index'], 'same as input', {
  kernel:
    "inputs [x, index (int32), src]; attrs.dim, attrs.reduce ('none' | 'add'); output = copy of x with src scattered in, contiguous",
  aliases: ['scatterAdd'],
});
def('indexSelect', 'primitive', ['index'], 'same as input', {
  kernel: 'inputs [x, index (int32, 1-D)]; attrs.dim; output contiguous',
});
def('sort', 'primitive', ['index'], 'values: same; indices: int32', {
  kernel:
    'inputs [x]; attrs.dim, attrs.descending; outputs [values, indices] contiguous, stable, NaN sorts last (first when descending)',
});
def('topk', 'composite', ['index'], 'values: same; indices: int32', {});
def('cat', 'structural', ['shape'], 'promoted', { kernel: 'executed with copy' });
def('stack', 'composite', ['shape'], 'promoted', {});
def('split', 'view', ['shape'], 'same', {
  aliases: ['chunk'],
  kernel: 'views of the input along attrs.dim with attrs.sizes, recorded as one node',
});
def('flip', 'structural', ['shape'], 'same', { kernel: 'executed with copy from a negative-stride view' });
def('repeat', 'composite', ['shape'], 'same', {});
def('pad', 'structural', ['shape'], 'same', {
  kernel:
    "constant mode: fill and copy; 'reflect' | 'replicate' | 'circular': indexSelect with host-computed indices",
});
def('tril', 'composite', ['shape'], 'same', {});
def('triu', 'composite', ['shape'], 'same', {});
def('diag', 'structural', ['shape'], 'same', {
  kernel: 'a diagonal view (2-D input) or fill + copy (1-D input)',
});
def('maskedFill', 'composite', ['index'], 'same', {});
def('index', 'composite', ['index'], 'same', {});
def('nonzero', 'composite', ['index', 'cpu-only'], 'int32', { differentiable: false });

// ---- fused (optional kernels; the composite definition is the fallback and the reference) ----
def('lstmLayer', 'fused', ['linalg'], 'same (float32 or float64)', {
  compositeFallback: true,
  kernel:
    'inputs [x [T,B,I], h0 [B,H], c0 [B,H], wih [4H,I], whh [4H,H], bih [4H], bhh [4H] (biases when attrs.hasBias)] contiguous; outputs [out [T,B,H], cN [B,H], gates [T,B,4H] (activated i,f,g,o), cells [T,B,H]]; attrs.reverse walks t = T-1..0',
});
def('lstmLayerBackward', 'fused', ['linalg'], 'same', {
  differentiable: false,
  kernel:
    'inputs [gOut [T,B,H], gcN [B,H], x, h0, c0, wih, whh, gates, cells, out] contiguous; outputs [dx [T,B,I], dh0, dc0, dWih [4H,I], dWhh [4H,H], db [4H] (both biases, when attrs.hasBias)]',
});

def('adamUpdate', 'fused', [], 'same (float32 or float64)', {
  differentiable: false,
  kernel:
    'inputs [param, grad, expAvg, expAvgSq, maxExpAvgSq when attrs.amsgrad] dense, one dtype; no outputs: param and the state are updated in place (PyTorch single-tensor Adam); attrs lr, beta1, beta2, eps, step',
});
def('sgdUpdate', 'fused', [], 'same (float32 or float64)', {
  differentiable: false,
  kernel:
    'inputs [param, grad, momentumBuffer when attrs.hasBuffer] dense, one dtype; no outputs: updated in place (PyTorch single-tensor SGD); attrs lr, momentum, dampening, nesterov, init (first momentum step)',
});

// ---- views ----
def('reshape', 'view', ['shape'], 'same', {
  aliases: ['view', 'flatten', 'unflatten', 'squeeze', 'unsqueeze'],
  kernel: 'a view when the strides allow, else clone + view',
});
def('permute', 'view', ['shape'], 'same', { aliases: ['transpose', 'T', 'mT'] });
def('expand', 'view', ['shape'], 'same', { aliases: ['broadcastTo', 'expandAs'] });
def('slice', 'view', ['shape'], 'same', { aliases: ['narrow'], kernel: 'attrs.dim, start, step, length' });
def('select', 'view', ['shape'], 'same', { kernel: 'attrs.dim, index' });
def('diagonal', 'view', ['shape'], 'same', { kernel: 'attrs.offset, dim1, dim2' });

// ---- creation ----
for (const name of ['tensor', 'zeros', 'ones', 'full', 'empty', 'arange', 'linspace', 'eye']) {
  def(name, 'creation', [], 'default float dtype or given', { differentiable: false });
}
for (const name of ['rand', 'randn', 'randint', 'randperm', 'normal']) {
  def(name, 'creation', ['random'], 'default float dtype or given (randint/randperm: int32)', {
    differentiable: false,
  });
}

/**
 * Every op of gradfolio by name. Read-only: backends register kernels, they do not add ops.
 *
 * @example
 * ```ts
 * opTable.get('matmul')?.kind; // 'primitive'
 * [...opTable.values()].filter((d) => d.kind === 'primitive').length;
 * ```
 */
export const opTable: ReadonlyMap<string, OpDef> = table;

/** Names of the ops a backend must implement as kernels. */
export function primitiveOps(): string[] {
  return [...table.values()].filter((d) => d.kind === 'primitive').map((d) => d.name);
}
