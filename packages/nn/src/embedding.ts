/**
 * `Embedding`: a lookup table of vectors, with its functional form `embedding` (PyTorch's
 * `F.embedding`).
 *
 * @packageDocumentation
 */

import { noGrad } from '@gradfolio/autograd';
import {
  empty,
  type Generator,
  GradfolioError,
  indexSelect,
  type Tensor,
  tensor,
  where,
} from '@gradfolio/tensor';
import { normal_ } from './init.js';
import { factoryOptions, type LayerFactoryOptions } from './linear.js';
import { Module } from './module.js';

/** Options of {@link embedding}. */
export interface EmbeddingFunctionalOptions {
  /** Row whose gradient is always zero (negative counts from the end). */
  paddingIdx?: number | undefined;
  /** Rows looked up whose `normType`-norm exceeds this are rescaled in place to this norm first. */
  maxNorm?: number | undefined;
  /** The p of the `maxNorm` norm (default 2). */
  normType?: number;
}

function normalizePaddingIdx(op: string, paddingIdx: number | undefined, rows: number): number | undefined {
  if (paddingIdx === undefined) return undefined;
  if (!Number.isInteger(paddingIdx) || paddingIdx >= rows || paddingIdx < -rows) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: paddingIdx must be an integer within [${-rows}, ${rows - 1}], got ${paddingIdx}`,
      { op, paddingIdx },
    );
  }
  return paddingIdx < 0 ? paddingIdx + rows : paddingIdx;
}

/**
 * Rescales, in place and without recording gradients, the rows of `weight` that `indices` refers to
 * whose `normType`-norm exceeds `maxNorm` (PyTorch's `torch.embedding_renorm_`: factor
 * `maxNorm / (norm + 1e-7)`).
 *
 * @example
 * ```ts
 * embeddingRenorm_(w, tensor([0, 2], { dtype: 'int32' }), 1.0);
 * ```
 */
export function embeddingRenorm_(weight: Tensor, indices: Tensor, maxNorm: number, normType = 2): Tensor {
  noGrad(() => {
    const seen = new Set<number>();
    for (const v of indices.dataSync()) seen.add(Number(v));
    const uniq = [...seen].sort((a, b) => a - b);
    if (uniq.length === 0) return;
    const idx = tensor(uniq, { dtype: 'int32', device: weight.device });
    const rows = indexSelect(weight, 0, idx);
    const norms = rows.norm(normType, 1, { keepdim: true });
    const scale = where(norms.gt(maxNorm), norms.add(1e-7).reciprocal().mul(maxNorm), 1);
    weight.indexPut_([idx], rows.mul(scale));
  });
  return weight;
}

/**
 * Looks up rows of `weight` (`[numEmbeddings, embeddingDim]`) at the int32 `input` indices, giving
 * `[...input.shape, embeddingDim]` (PyTorch's `F.embedding`). The row `paddingIdx`, when given, gets no
 * gradient. With `maxNorm`, the looked-up rows are first renormalised in place (see
 * {@link embeddingRenorm_}).
 *
 * @example
 * ```ts
 * const out = embedding(tensor([[0, 2], [1, 0]], { dtype: 'int32' }), randn([3, 4]), { paddingIdx: 0 });
 * ```
 */
export function embedding(input: Tensor, weight: Tensor, options: EmbeddingFunctionalOptions = {}): Tensor {
  if (weight.ndim !== 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `embedding: weight must be 2-D [numEmbeddings, embeddingDim], got [${weight.shape.join(', ')}]`,
      { op: 'embedding', shapes: [weight.shape] },
    );
  }
  if (input.dtype !== 'int32') {
    throw new GradfolioError('DTYPE_MISMATCH', `embedding: expected int32 indices, got ${input.dtype}`, {
      op: 'embedding',
      dtype: input.dtype,
    });
  }
  const rows = weight.shape[0]!;
  const paddingIdx = normalizePaddingIdx('embedding', options.paddingIdx, rows);
  if (options.maxNorm !== undefined) embeddingRenorm_(weight, input, options.maxNorm, options.normType ?? 2);
  const flat = input.reshape([-1]);
  const picked = indexSelect(weight, 0, flat);
  let out = picked;
  if (paddingIdx !== undefined && weight.requiresGrad) {
    // Same values everywhere; the rows picked at `paddingIdx` come from a detached copy, so they send
    // no gradient back (PyTorch's embedding backward skips those rows).
    const keep = flat.ne(paddingIdx).reshape([-1, 1]);
    out = where(keep, picked, picked.detach());
  }
  return out.reshape([...input.shape, weight.shape[1]!]);
}

/** Options of {@link Embedding}. */
export interface EmbeddingOptions extends LayerFactoryOptions {
  /** Row that gets no gradient and is initialised to zeros (negative counts from the end). */
  paddingIdx?: number;
  /** Looked-up rows whose norm exceeds this are renormalised in place (see {@link embeddingRenorm_}). */
  maxNorm?: number;
  /** The p of the `maxNorm` norm (default 2). */
  normType?: number;
  /** Use this `[numEmbeddings, embeddingDim]` tensor as the weight instead of a random one. */
  weight?: Tensor;
  /** Freeze the weight (`requiresGrad = false`; used by {@link Embedding.fromPretrained}). */
  freeze?: boolean;
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim` (PyTorch's `nn.Embedding`):
 * `forward(indices)` maps int32 indices of any shape to `[...shape, embeddingDim]`. The parameter
 * `weight` is drawn from N(0, 1), with the `paddingIdx` row zeroed; that row never gets a gradient.
 *
 * @example
 * ```ts
 * const emb = new Embedding(10, 3, { paddingIdx: 0 });
 * const y = emb.call(tensor([[1, 2, 0]], { dtype: 'int32' })); // [1, 3, 3]
 * ```
 */
export class Embedding extends Module {
  /** Number of rows. */
  readonly numEmbeddings: number;
  /** Size of each row. */
  readonly embeddingDim: number;
  /** The padding row (normalised to be non-negative), if any. */
  readonly paddingIdx: number | undefined;
  /** Renormalisation bound, if any. */
  readonly maxNorm: number | undefined;
  /** The p of the `maxNorm` norm. */
  readonly normType: number;
  /** The table, `[numEmbeddings, embeddingDim]`. */
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    for (const [name, v] of [
      ['numEmbeddings', numEmbeddings],
      ['embeddingDim', embeddingDim],
    ] as const) {
      if (!Number.isInteger(v) || v < 0) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `Embedding: ${name} must be a non-negative integer, got ${v}`,
          {
            op: 'Embedding',
          },
        );
      }
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = normalizePaddingIdx('Embedding', options.paddingIdx, numEmbeddings);
    this.maxNorm = options.maxNorm;
    this.normType = options.normType ?? 2;
    let w: Tensor;
    if (options.weight !== undefined) {
      if (
        options.weight.ndim !== 2 ||
        options.weight.shape[0] !== numEmbeddings ||
        options.weight.shape[1] !== embeddingDim
      ) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `Embedding: weight must have shape [${numEmbeddings}, ${embeddingDim}], got [${options.weight.shape.join(', ')}]`,
          { op: 'Embedding', shapes: [options.weight.shape] },
        );
      }
      w = options.weight;
    } else {
      w = empty([numEmbeddings, embeddingDim], factoryOptions(options));
    }
    this.weight = this.registerParameter('weight', w);
    if (options.freeze === true) this.weight.requiresGrad = false;
    if (options.weight === undefined) this.resetParameters(options.generator);
  }

  /**
   * An embedding holding `embeddings` (`[numEmbeddings, embeddingDim]`), frozen unless
   * `freeze: false` (PyTorch's `Embedding.from_pretrained`).
   *
   * @example
   * ```ts
   * const emb = Embedding.fromPretrained(tensor([[1, 2], [3, 4]]));
   * ```
   */
  static fromPretrained(
    embeddings: Tensor,
    options: Omit<EmbeddingOptions, 'weight' | 'dtype' | 'device' | 'generator'> = {},
  ): Embedding {
    if (embeddings.ndim !== 2) {
      throw new GradfolioError('SHAPE_MISMATCH', 'Embedding.fromPretrained: embeddings must be 2-D', {
        op: 'Embedding.fromPretrained',
        shapes: [embeddings.shape],
      });
    }
    return new Embedding(embeddings.shape[0]!, embeddings.shape[1]!, {
      ...options,
      weight: embeddings,
      freeze: options.freeze ?? true,
    });
  }

  #zeroPaddingRow(): void {
    const p = this.paddingIdx;
    if (p === undefined) return;
    noGrad(() => this.weight.select(0, p).zero_());
  }

  /**
   * Redraws `weight` from N(0, 1) and zeroes the padding row.
   *
   * @example
   * ```ts
   * emb.resetParameters(new Generator().manualSeed(0));
   * ```
   */
  resetParameters(generator?: Generator): void {
    normal_(this.weight, 0, 1, generator === undefined ? {} : { generator });
    this.#zeroPaddingRow();
  }

  /**
   * Looks up the rows at the int32 `input` indices.
   *
   * @example
   * ```ts
   * new Embedding(5, 2).forward(tensor([4, 0], { dtype: 'int32' })); // [2, 2]
   * ```
   */
  forward(input: Tensor): Tensor {
    return embedding(input, this.weight, {
      paddingIdx: this.paddingIdx,
      maxNorm: this.maxNorm,
      normType: this.normType,
    });
  }

  /**
   * PyTorch's repr fields.
   *
   * @example
   * ```ts
   * new Embedding(10, 3, { paddingIdx: 0 }).extraRepr(); // '10, 3, padding_idx=0'
   * ```
   */
  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.paddingIdx !== undefined) s += `, padding_idx=${this.paddingIdx}`;
    if (this.maxNorm !== undefined) s += `, max_norm=${pyNum(this.maxNorm)}`;
    if (this.normType !== 2) s += `, norm_type=${pyNum(this.normType)}`;
    return s;
  }
}

function pyNum(x: number): string {
  return Number.isInteger(x) ? `${x}` : String(x);
}
