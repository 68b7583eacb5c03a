/**
 * The single error class of gradfolio. Every error carries a literal `code` and structured fields, so
 * callers can branch on `err.code` and tools can read `err.op`, `err.shapes`, ... without parsing text.
 */

const MARKER = Symbol.for('gradfolio.error');

/**
 * Every error code the tensor core produces. Packages above it (autograd, data, ...) extend the set with
 * their own codes (`GRAPH_FREED`, `PARSE_ERROR`, ...) through the same class.
 */
export type ErrorCode =
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'DEVICE_MISMATCH'
  | 'NOT_SCALAR'
  | 'BACKEND_UNAVAILABLE'
  | 'KERNEL_MISSING'
  | 'INVALID_ARGUMENT'
  | 'INDEX_OUT_OF_RANGE'
  | 'NOT_VIEWABLE'
  | 'SYNC_READ_UNAVAILABLE'
  | 'DISPOSED'
  | 'LINALG_ERROR'
  | 'UNSUPPORTED';

/** Structured details attached to an error. */
export interface ErrorDetails {
  /** The op that failed, e.g. `'matmul'`. */
  op?: string;
  /** Shapes involved, in argument order. */
  shapes?: ReadonlyArray<readonly number[]>;
  /** Any other fields worth reading programmatically. */
  [key: string]: unknown;
}

/**
 * Base class of every error gradfolio throws.
 *
 * @example
 * ```ts
 * try { a.matmul(b); } catch (e) {
 *   if (GradfolioError.isInstance(e) && e.code === 'SHAPE_MISMATCH') console.log(e.shapes);
 * }
 * ```
 */
export class GradfolioError extends Error {
  /** Brand that identifies gradfolio errors across copies of the package (see `isInstance`). @internal */
  readonly [MARKER] = true;
  /** Machine-readable code. */
  readonly code: ErrorCode | (string & {});
  /** The op that failed, when there is one. */
  readonly op: string | undefined;
  /** Shapes involved, when relevant. */
  readonly shapes: ReadonlyArray<readonly number[]> | undefined;
  /** All structured details. */
  readonly details: ErrorDetails;

  constructor(
    code: ErrorCode | (string & {}),
    message: string,
    details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GradfolioError';
    this.code = code;
    this.op = details.op;
    this.shapes = details.shapes;
    this.details = details;
  }

  /**
   * True for errors from any copy or version of gradfolio (uses a `Symbol.for` marker, not `instanceof`).
   *
   * @example
   * ```ts
   * if (GradfolioError.isInstance(err)) console.log(err.code);
   * ```
   */
  static isInstance(value: unknown): value is GradfolioError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** Formats a shape like PyTorch does in messages: `[2, 3]`. @internal */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Throws an `INVALID_ARGUMENT` error unless `cond` holds.
 * @internal
 */
export function check(cond: unknown, op: string, message: string, details: ErrorDetails = {}): asserts cond {
  if (!cond) throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${message}`, { op, ...details });
}
