/**
 * Feature scalers with scikit-learn's semantics: `MinMaxScaler`, `StandardScaler`, `RobustScaler`.
 * Statistics are computed per feature (the last dim) in float64 on the host, ignoring NaNs as sklearn
 * does; `transform` / `inverseTransform` run as tensor ops on the input's device and dtype.
 */

import {
  GradfolioError,
  getDefaultDType,
  isFloating,
  type Tensor,
  type TypedArray,
  tensor,
} from '@gradfolio/tensor';

const EPS = 2 ** -52;

/** The JSON form of a scaler (`toJSON()` / `fromJSON()`). @example `const json: ScalerJSON = scaler.toJSON()` */
export interface ScalerJSON {
  /** Class name, e.g. `'MinMaxScaler'`. */
  type: 'MinMaxScaler' | 'StandardScaler' | 'RobustScaler';
  /** Format version (1). */
  version: 1;
  /** Constructor options. */
  options: Record<string, unknown>;
  /** Number of features seen by `fit`, or null before fitting. */
  nFeaturesIn: number | null;
  /** Number of rows seen by `fit` (0 before fitting). */
  nSamplesSeen: number;
  /** Fitted statistics per feature (NaN written as null), or null before fitting. */
  stats: Record<string, Array<number | null> | null> | null;
}

interface HostData {
  data: TypedArray;
  rows: number;
  features: number;
}

function shapeOf(x: Tensor): string {
  return `[${x.shape.join(', ')}]`;
}

function columnValues(h: HostData, j: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < h.rows; r++) {
    const v = h.data[r * h.features + j]!;
    if (!Number.isNaN(v)) out.push(v);
  }
  return out;
}

/** numpy's `_lerp`: `a + (b - a) * t`, computed from `b` when `t >= 0.5`. */
function lerp(a: number, b: number, t: number): number {
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** `np.percentile(sorted, q)` with the default `'linear'` method, for ascending `sorted`. */
function percentile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const virtual = (q / 100) * (n - 1);
  const lo = Math.min(Math.max(Math.floor(virtual), 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  return lerp(sorted[lo]!, sorted[hi]!, virtual - lo);
}

/** `np.median` of ascending `sorted` (mean of the two middle values for an even count). */
function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const m = n >> 1;
  return n % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** sklearn's `_handle_zeros_in_scale`: entries below `10 * eps` (or flagged constant) become 1. */
function handleZeros(scale: number[], constant?: readonly boolean[]): number[] {
  return scale.map((s, j) => ((constant ? constant[j] : s < 10 * EPS) ? 1 : s));
}

function toJSONNumbers(a: readonly number[] | undefined): Array<number | null> | null {
  return a === undefined ? null : a.map((v) => (Number.isFinite(v) ? v : null));
}

/**
 * Shared fit / transform / JSON plumbing of the scalers.
 * @example
 * ```ts
 * const s: Scaler = new StandardScaler();
 * s.fitTransform(train);
 * ```
 */
export abstract class Scaler {
  /** Class name used in messages and JSON. */
  abstract readonly type: ScalerJSON['type'];
  #nFeaturesIn: number | undefined = undefined;
  #nSamplesSeen = 0;

  /** Number of features seen by `fit` (undefined before fitting). @example `scaler.nFeaturesIn // 5` */
  get nFeaturesIn(): number | undefined {
    return this.#nFeaturesIn;
  }
  /** Number of rows seen by `fit` (all leading dims). @example `scaler.nSamplesSeen // 6183` */
  get nSamplesSeen(): number {
    return this.#nSamplesSeen;
  }
  /** True once `fit` has run (or the scaler was loaded fitted). @example `scaler.isFitted` */
  get isFitted(): boolean {
    return this.#nFeaturesIn !== undefined;
  }

  /** @internal */
  protected abstract fitHost(h: HostData): void;
  /** @internal */
  protected abstract forward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor;
  /** @internal */
  protected abstract backward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor;
  /** @internal */
  protected abstract optionsJSON(): Record<string, unknown>;
  /** @internal */
  protected abstract statsJSON(): ScalerJSON['stats'];
  /** @internal */
  protected abstract loadStats(stats: Record<string, number[] | undefined>, features: number): void;

  #host(op: string, x: Tensor, data: TypedArray): HostData {
    const features = x.shape[x.ndim - 1]!;
    const rows = features === 0 ? 0 : x.numel / features;
    if (rows === 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${this.type}.${op}: found a tensor with 0 samples (shape ${shapeOf(x)}); fit needs at least one row`,
        { op: `${this.type}.${op}`, shapes: [x.shape] },
      );
    }
    return { data, rows, features };
  }

  #checkRank(op: string, x: Tensor): void {
    if (x.ndim < 2) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${this.type}.${op}: expected a tensor of shape [T, F] (or [N, L, F]), got ${shapeOf(x)}; reshape a single feature with x.reshape(-1, 1)`,
        { op: `${this.type}.${op}`, shapes: [x.shape] },
      );
    }
  }

  #afterFit(h: HostData): this {
    this.#nFeaturesIn = h.features;
    this.#nSamplesSeen = h.rows;
    return this;
  }

  /**
   * Computes the per-feature statistics from `x` (`[T, F]`, or `[..., F]` with every leading dim read
   * as rows); fit on the training rows only. Reads `x` synchronously (CPU; use `fitAsync` elsewhere).
   * @example
   * ```ts
   * const scaler = new MinMaxScaler({ featureRange: [-1, 1] }).fit(train);
   * ```
   */
  fit(x: Tensor): this {
    this.#checkRank('fit', x);
    const h = this.#host('fit', x, x.dataSync());
    this.fitHost(h);
    return this.#afterFit(h);
  }

  /**
   * `fit` that reads the data asynchronously, for backends without synchronous reads (WebGPU).
   * @example
   * ```ts
   * await scaler.fitAsync(gpuTrain);
   * ```
   */
  async fitAsync(x: Tensor): Promise<this> {
    this.#checkRank('fit', x);
    const h = this.#host('fit', x, await x.data());
    this.fitHost(h);
    return this.#afterFit(h);
  }

  #prepare(op: string, x: Tensor): { x: Tensor; stats: (a: readonly number[]) => Tensor } {
    const name = `${this.type}.${op}`;
    if (this.#nFeaturesIn === undefined) {
      throw new GradfolioError(
        'NOT_FITTED',
        `${name}: this ${this.type} instance is not fitted yet; call fit() with the training data before ${op}()`,
        { op: name },
      );
    }
    this.#checkRank(op, x);
    const f = x.shape[x.ndim - 1]!;
    if (f !== this.#nFeaturesIn) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${name}: X has ${f} features (shape ${shapeOf(x)}), but ${this.type} is expecting ${this.#nFeaturesIn} features as input`,
        { op: name, shapes: [x.shape], expected: this.#nFeaturesIn, got: f },
      );
    }
    const xf = isFloating(x.dtype) ? x : x.to({ dtype: getDefaultDType() });
    const stats = (a: readonly number[]): Tensor => tensor([...a], { dtype: xf.dtype, device: xf.device });
    return { x: xf, stats };
  }

  /**
   * Scales `x` (`[T, F]` or `[N, L, F]`) with the fitted statistics; returns a new tensor.
   * @example
   * ```ts
   * const scaled = scaler.transform(test);
   * ```
   */
  transform(x: Tensor): Tensor {
    const p = this.#prepare('transform', x);
    return this.forward(p.x, p.stats);
  }

  /**
   * `fit(x)` then `transform(x)`.
   * @example
   * ```ts
   * const scaledTrain = new StandardScaler().fitTransform(train);
   * ```
   */
  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  /**
   * Undoes `transform` (e.g. to read predictions back in prices).
   * @example
   * ```ts
   * const prices = scaler.inverseTransform(predictions);
   * ```
   */
  inverseTransform(x: Tensor): Tensor {
    const p = this.#prepare('inverseTransform', x);
    return this.backward(p.x, p.stats);
  }

  /**
   * A plain JSON object with the options and fitted statistics, so a deployed model scales its inputs
   * exactly as in training (`JSON.stringify` round-trips float64 values exactly).
   * @example
   * ```ts
   * fs.writeFileSync('scaler.json', JSON.stringify(scaler));
   * ```
   */
  toJSON(): ScalerJSON {
    return {
      type: this.type,
      version: 1,
      options: this.optionsJSON(),
      nFeaturesIn: this.#nFeaturesIn ?? null,
      nSamplesSeen: this.#nSamplesSeen,
      stats: this.#nFeaturesIn === undefined ? null : this.statsJSON(),
    };
  }

  /** @internal Restores the fitted state from validated JSON. */
  protected restore(json: ScalerJSON): this {
    if (json.nFeaturesIn === null || json.stats === null) return this;
    const f = json.nFeaturesIn;
    const stats: Record<string, number[] | undefined> = {};
    for (const [k, v] of Object.entries(json.stats)) {
      if (v === null) continue;
      if (!Array.isArray(v) || v.length !== f || v.some((e) => e !== null && typeof e !== 'number')) {
        throw parseError(json.type, `stats.${k} must be an array of ${f} numbers`);
      }
      stats[k] = v.map((e) => (e === null ? Number.NaN : e));
    }
    this.loadStats(stats, f);
    this.#nFeaturesIn = f;
    this.#nSamplesSeen = json.nSamplesSeen;
    return this;
  }
}

function parseError(type: string, message: string): GradfolioError {
  return new GradfolioError('PARSE_ERROR', `${type}.fromJSON: ${message}`, { op: `${type}.fromJSON` });
}

function parseJSON(type: ScalerJSON['type'], input: unknown): ScalerJSON {
  let j = input;
  if (typeof j === 'string') {
    try {
      j = JSON.parse(j);
    } catch (e) {
      throw new GradfolioError('PARSE_ERROR', `${type}.fromJSON: invalid JSON text (${String(e)})`, {
        op: `${type}.fromJSON`,
      });
    }
  }
  if (typeof j !== 'object' || j === null) throw parseError(type, `expected an object, got ${String(j)}`);
  const o = j as Record<string, unknown>;
  if (o.type !== type) throw parseError(type, `expected type '${type}', got '${String(o.type)}'`);
  if (o.version !== 1) throw parseError(type, `unsupported version ${String(o.version)} (expected 1)`);
  if (typeof o.options !== 'object' || o.options === null) throw parseError(type, 'missing options');
  const nf = o.nFeaturesIn;
  if (nf !== null && !(typeof nf === 'number' && Number.isInteger(nf) && nf > 0)) {
    throw parseError(type, `nFeaturesIn must be a positive integer or null, got ${String(nf)}`);
  }
  if (typeof o.nSamplesSeen !== 'number') throw parseError(type, 'nSamplesSeen must be a number');
  if (nf !== null && (typeof o.stats !== 'object' || o.stats === null)) {
    throw parseError(type, 'a fitted scaler needs stats');
  }
  return o as unknown as ScalerJSON;
}

function requireStat(type: string, stats: Record<string, number[] | undefined>, key: string): number[] {
  const v = stats[key];
  if (v === undefined) throw parseError(type, `stats.${key} is missing`);
  return v;
}

/** Options of {@link MinMaxScaler}. @example `{ featureRange: [-1, 1], clip: true }` */
export interface MinMaxScalerOptions {
  /** Target range `[min, max]` of the scaled features; `min < max`. Default `[0, 1]`. */
  featureRange?: readonly [number, number];
  /** Clip transformed values into `featureRange` (for unseen data beyond the fitted range). Default false. */
  clip?: boolean;
}

/**
 * sklearn's `MinMaxScaler`: `X * scale + min` with `scale = (max - min of featureRange) / (dataMax - dataMin)`
 * per feature and `min = featureRange[0] - dataMin * scale`; constant features get `scale = 1`.
 * Seed 000 uses `featureRange: [-1, 1]`.
 * @example
 * ```ts
 * const scaler = new MinMaxScaler({ featureRange: [-1, 1] });
 * const scaled = scaler.fitTransform(frame);   // each column now spans [-1, 1]
 * const back = scaler.inverseTransform(scaled);
 * ```
 */
export class MinMaxScaler extends Scaler {
  readonly type = 'MinMaxScaler' as const;
  /** The target range. */
  readonly featureRange: readonly [number, number];
  /** Whether `transform` clips into `featureRange`. */
  readonly clip: boolean;
  /** Per-feature minimum seen in `fit`. @example `scaler.dataMin` */
  dataMin: number[] | undefined = undefined;
  /** Per-feature maximum seen in `fit`. @example `scaler.dataMax` */
  dataMax: number[] | undefined = undefined;
  /** `dataMax - dataMin`. @example `scaler.dataRange` */
  dataRange: number[] | undefined = undefined;
  /** Per-feature multiplier. @example `scaler.scale` */
  scale: number[] | undefined = undefined;
  /** Per-feature offset added after scaling (sklearn's `min_`). @example `scaler.min` */
  min: number[] | undefined = undefined;

  /** @example `new MinMaxScaler({ featureRange: [-1, 1], clip: true })` */
  constructor(options: MinMaxScalerOptions = {}) {
    super();
    const fr = options.featureRange ?? [0, 1];
    if (!(Array.isArray(fr) && fr.length === 2 && fr[0] < fr[1])) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `MinMaxScaler: minimum of desired feature range must be smaller than maximum; got [${String(fr)}]`,
        { op: 'MinMaxScaler' },
      );
    }
    this.featureRange = [fr[0], fr[1]];
    this.clip = options.clip ?? false;
  }

  protected fitHost(h: HostData): void {
    const lo: number[] = [];
    const hi: number[] = [];
    for (let j = 0; j < h.features; j++) {
      let mn = Number.POSITIVE_INFINITY;
      let mx = Number.NEGATIVE_INFINITY;
      let seen = false;
      for (let r = 0; r < h.rows; r++) {
        const v = h.data[r * h.features + j]!;
        if (Number.isNaN(v)) continue;
        seen = true;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      lo.push(seen ? mn : Number.NaN);
      hi.push(seen ? mx : Number.NaN);
    }
    this.#set(lo, hi);
  }

  #set(lo: number[], hi: number[]): void {
    const [a, b] = this.featureRange;
    const range = hi.map((m, j) => m - lo[j]!);
    const scale = handleZeros(range).map((r) => (b - a) / r);
    this.dataMin = lo;
    this.dataMax = hi;
    this.dataRange = range;
    this.scale = scale;
    this.min = lo.map((m, j) => a - m * scale[j]!);
  }

  protected forward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor {
    const y = x.mul(stats(this.scale!)).add(stats(this.min!));
    return this.clip ? y.clamp(this.featureRange[0], this.featureRange[1]) : y;
  }

  protected backward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor {
    return x.sub(stats(this.min!)).div(stats(this.scale!));
  }

  protected optionsJSON(): Record<string, unknown> {
    return { featureRange: [...this.featureRange], clip: this.clip };
  }

  protected statsJSON(): ScalerJSON['stats'] {
    return { dataMin: toJSONNumbers(this.dataMin), dataMax: toJSONNumbers(this.dataMax) };
  }

  protected loadStats(stats: Record<string, number[] | undefined>): void {
    this.#set(requireStat(this.type, stats, 'dataMin'), requireStat(this.type, stats, 'dataMax'));
  }

  /**
   * Rebuilds a scaler from `toJSON()` output (an object or its JSON text).
   * @example
   * ```ts
   * const scaler = MinMaxScaler.fromJSON(fs.readFileSync('scaler.json', 'utf8'));
   * ```
   */
  static fromJSON(json: unknown): MinMaxScaler {
    const j = parseJSON('MinMaxScaler', json);
    const o = j.options as { featureRange?: [number, number]; clip?: boolean };
    const opts: MinMaxScalerOptions = {};
    if (o.featureRange !== undefined) opts.featureRange = o.featureRange;
    if (o.clip !== undefined) opts.clip = o.clip;
    return new MinMaxScaler(opts).restore(j);
  }
}

/** Options of {@link StandardScaler}. @example `{ withMean: false }` */
export interface StandardScalerOptions {
  /** Subtract the per-feature mean. Default true. */
  withMean?: boolean;
  /** Divide by the per-feature population standard deviation (ddof 0). Default true. */
  withStd?: boolean;
}

/**
 * sklearn's `StandardScaler`: `(X - mean) / scale` per feature with `scale` the population standard
 * deviation (`correction: 0`, numpy's `ddof=0`, not PyTorch's default unbiased `std`); constant features
 * (variance within rounding error of 0) get `scale = 1`.
 * @example
 * ```ts
 * const scaler = new StandardScaler().fit(train);
 * const z = scaler.transform(test);
 * ```
 */
export class StandardScaler extends Scaler {
  readonly type = 'StandardScaler' as const;
  /** Whether the mean is subtracted. */
  readonly withMean: boolean;
  /** Whether features are divided by their standard deviation. */
  readonly withStd: boolean;
  /** Per-feature mean (undefined when neither centring nor scaling). @example `scaler.mean` */
  mean: number[] | undefined = undefined;
  /** Per-feature population variance (undefined without `withStd`). @example `scaler.var` */
  var: number[] | undefined = undefined;
  /** Per-feature divisor (undefined without `withStd`). @example `scaler.scale` */
  scale: number[] | undefined = undefined;

  /** @example `new StandardScaler({ withMean: false })` */
  constructor(options: StandardScalerOptions = {}) {
    super();
    this.withMean = options.withMean ?? true;
    this.withStd = options.withStd ?? true;
  }

  protected fitHost(h: HostData): void {
    const mean: number[] = [];
    const variance: number[] = [];
    for (let j = 0; j < h.features; j++) {
      let sum = 0;
      let n = 0;
      for (let r = 0; r < h.rows; r++) {
        const v = h.data[r * h.features + j]!;
        if (Number.isNaN(v)) continue;
        sum += v;
        n++;
      }
      const m = n === 0 ? Number.NaN : sum / n;
      // sklearn's corrected two-pass variance.
      let sq = 0;
      let corr = 0;
      for (let r = 0; r < h.rows; r++) {
        const v = h.data[r * h.features + j]!;
        if (Number.isNaN(v)) continue;
        const d = v - m;
        corr += d;
        sq += d * d;
      }
      mean.push(m);
      variance.push(n === 0 ? Number.NaN : (sq - (corr * corr) / n) / n);
    }
    this.#set(mean, variance, h.rows);
  }

  #set(mean: number[], variance: number[] | undefined, n: number): void {
    this.mean = this.withMean || this.withStd ? mean : undefined;
    if (this.withStd && variance !== undefined) {
      // sklearn's _is_constant_feature: variance below the rounding error bound counts as 0.
      const constant = variance.map((v, j) => v <= n * EPS * v + (n * mean[j]! * EPS) ** 2);
      this.var = variance;
      this.scale = handleZeros(
        variance.map((v) => Math.sqrt(v)),
        constant,
      );
    } else {
      this.var = undefined;
      this.scale = undefined;
    }
  }

  protected forward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor {
    let y = x;
    if (this.withMean) y = y.sub(stats(this.mean!));
    if (this.withStd) y = y.div(stats(this.scale!));
    return y === x ? x.clone() : y;
  }

  protected backward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor {
    let y = x;
    if (this.withStd) y = y.mul(stats(this.scale!));
    if (this.withMean) y = y.add(stats(this.mean!));
    return y === x ? x.clone() : y;
  }

  protected optionsJSON(): Record<string, unknown> {
    return { withMean: this.withMean, withStd: this.withStd };
  }

  protected statsJSON(): ScalerJSON['stats'] {
    return { mean: toJSONNumbers(this.mean), var: toJSONNumbers(this.var), scale: toJSONNumbers(this.scale) };
  }

  protected loadStats(stats: Record<string, number[] | undefined>): void {
    this.mean = this.withMean || this.withStd ? requireStat(this.type, stats, 'mean') : undefined;
    this.var = this.withStd ? requireStat(this.type, stats, 'var') : undefined;
    this.scale = this.withStd ? requireStat(this.type, stats, 'scale') : undefined;
  }

  /**
   * Rebuilds a scaler from `toJSON()` output (an object or its JSON text).
   * @example
   * ```ts
   * const scaler = StandardScaler.fromJSON(saved);
   * ```
   */
  static fromJSON(json: unknown): StandardScaler {
    const j = parseJSON('StandardScaler', json);
    const o = j.options as { withMean?: boolean; withStd?: boolean };
    const opts: StandardScalerOptions = {};
    if (o.withMean !== undefined) opts.withMean = o.withMean;
    if (o.withStd !== undefined) opts.withStd = o.withStd;
    return new StandardScaler(opts).restore(j);
  }
}

/** Options of {@link RobustScaler}. @example `{ quantileRange: [10, 90] }` */
export interface RobustScalerOptions {
  /** Subtract the per-feature median. Default true. */
  withCentering?: boolean;
  /** Divide by the per-feature interquartile range. Default true. */
  withScaling?: boolean;
  /** Percentiles `[qMin, qMax]` (0..100) whose difference is the scale. Default `[25, 75]`. */
  quantileRange?: readonly [number, number];
}

/**
 * sklearn's `RobustScaler`: `(X - median) / (q[qMax] - q[qMin])` per feature, with numpy's default
 * linear-interpolation percentiles; a zero range gets `scale = 1`. Robust to outliers.
 * (sklearn's `unit_variance` option is not provided.)
 * @example
 * ```ts
 * const scaler = new RobustScaler({ quantileRange: [10, 90] }).fit(train);
 * const scaled = scaler.transform(test);
 * ```
 */
export class RobustScaler extends Scaler {
  readonly type = 'RobustScaler' as const;
  /** Whether the median is subtracted. */
  readonly withCentering: boolean;
  /** Whether features are divided by the quantile range. */
  readonly withScaling: boolean;
  /** The percentile pair. */
  readonly quantileRange: readonly [number, number];
  /** Per-feature median (undefined without `withCentering`). @example `scaler.center` */
  center: number[] | undefined = undefined;
  /** Per-feature quantile range (undefined without `withScaling`). @example `scaler.scale` */
  scale: number[] | undefined = undefined;

  /** @example `new RobustScaler({ withCentering: false })` */
  constructor(options: RobustScalerOptions = {}) {
    super();
    this.withCentering = options.withCentering ?? true;
    this.withScaling = options.withScaling ?? true;
    const q = options.quantileRange ?? [25, 75];
    if (!(Array.isArray(q) && q.length === 2 && 0 <= q[0] && q[0] <= q[1] && q[1] <= 100)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `RobustScaler: invalid quantile range [${String(q)}]; expected 0 <= qMin <= qMax <= 100`,
        { op: 'RobustScaler' },
      );
    }
    this.quantileRange = [q[0], q[1]];
  }

  protected fitHost(h: HostData): void {
    const center: number[] = [];
    const scale: number[] = [];
    for (let j = 0; j < h.features; j++) {
      const col = Float64Array.from(columnValues(h, j)).sort();
      const sorted = Array.from(col);
      center.push(median(sorted));
      scale.push(percentile(sorted, this.quantileRange[1]) - percentile(sorted, this.quantileRange[0]));
    }
    this.center = this.withCentering ? center : undefined;
    this.scale = this.withScaling ? handleZeros(scale) : undefined;
  }

  protected forward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor {
    let y = x;
    if (this.withCentering) y = y.sub(stats(this.center!));
    if (this.withScaling) y = y.div(stats(this.scale!));
    return y === x ? x.clone() : y;
  }

  protected backward(x: Tensor, stats: (a: readonly number[]) => Tensor): Tensor {
    let y = x;
    if (this.withScaling) y = y.mul(stats(this.scale!));
    if (this.withCentering) y = y.add(stats(this.center!));
    return y === x ? x.clone() : y;
  }

  protected optionsJSON(): Record<string, unknown> {
    return {
      withCentering: this.withCentering,
      withScaling: this.withScaling,
      quantileRange: [...this.quantileRange],
    };
  }

  protected statsJSON(): ScalerJSON['stats'] {
    return { center: toJSONNumbers(this.center), scale: toJSONNumbers(this.scale) };
  }

  protected loadStats(stats: Record<string, number[] | undefined>): void {
    this.center = this.withCentering ? requireStat(this.type, stats, 'center') : undefined;
    this.scale = this.withScaling ? requireStat(this.type, stats, 'scale') : undefined;
  }

  /**
   * Rebuilds a scaler from `toJSON()` output (an object or its JSON text).
   * @example
   * ```ts
   * const scaler = RobustScaler.fromJSON(saved);
   * ```
   */
  static fromJSON(json: unknown): RobustScaler {
    const j = parseJSON('RobustScaler', json);
    const o = j.options as {
      withCentering?: boolean;
      withScaling?: boolean;
      quantileRange?: [number, number];
    };
    const opts: RobustScalerOptions = {};
    if (o.withCentering !== undefined) opts.withCentering = o.withCentering;
    if (o.withScaling !== undefined) opts.withScaling = o.withScaling;
    if (o.quantileRange !== undefined) opts.quantileRange = o.quantileRange;
    return new RobustScaler(opts).restore(j);
  }
}
