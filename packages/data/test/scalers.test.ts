/**
 * MinMaxScaler / StandardScaler / RobustScaler against numpy references computed by sklearn's formulas
 * (sklearn is not installed here). REF is the output of `/usr/bin/python3 fixtures/gen_scalers.py`
 * (minus its lag/split entries, used in windows.test.ts); the core of that script:
 *
 * ```python
 * def minmax(fr=(-1, 1)):
 *     dmin, dmax = A.min(0), A.max(0)
 *     scale = (fr[1] - fr[0]) / handle_zeros(dmax - dmin); mn = fr[0] - dmin * scale
 *     tb = B * scale + mn   # testClipped = np.clip(tb, *fr)
 * def standard():
 *     mean, var = A.mean(0), A.var(0)          # ddof=0
 *     constant = var <= n * eps * var + (n * mean * eps) ** 2
 *     scale = handle_zeros(np.sqrt(var), constant); testT = (B - mean) / scale
 * def robust(q=(25, 75)):
 *     center = np.median(A, axis=0); qs = np.percentile(A, q, axis=0)   # 'linear'
 *     scale = handle_zeros(qs[1] - qs[0]); testT = (B - center) / scale
 * ```
 */
import { GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { MinMaxScaler, RobustScaler, StandardScaler } from '../src/scalers.js';

// A: training rows (column 0 has an outlier, column 2 is constant); B: unseen rows beyond A's range.
const A = [
  [101.5, -3.0, 5.0],
  [102.25, 0.5, 5.0],
  [99.75, 2.25, 5.0],
  [103.0, 7.0, 5.0],
  [104.5, -1.5, 5.0],
  [98.0, 4.0, 5.0],
  [250.0, 0.0, 5.0],
  [105.25, 3.5, 5.0],
  [106.0, -2.0, 5.0],
  [100.5, 1.0, 5.0],
  [102.0, 6.5, 5.0],
  [103.75, 2.0, 5.0],
];
const B = [
  [97.0, -4.0, 5.0],
  [110.0, 8.0, 6.0],
  [102.0, 1.0, 4.0],
  [300.0, 0.25, 5.0],
];
const REF = {
  minmax: {
    dataMin: [98, -3, 5],
    dataMax: [250, 7, 5],
    scale: [0.013157894736842105, 0.2, 2],
    min: [-2.2894736842105265, -0.3999999999999999, -11],
    trainT: [
      [-0.9539473684210529, -1, -1],
      [-0.9440789473684215, -0.29999999999999993, -1],
      [-0.9769736842105265, 0.0500000000000001, -1],
      [-0.9342105263157898, 1.0000000000000002, -1],
      [-0.9144736842105265, -0.7, -1],
      [-1.0000000000000002, 0.40000000000000013, -1],
      [0.9999999999999996, -0.3999999999999999, -1],
      [-0.9046052631578951, 0.30000000000000016, -1],
      [-0.8947368421052635, -0.7999999999999999, -1],
      [-0.9671052631578951, -0.1999999999999999, -1],
      [-0.9473684210526319, 0.9000000000000001, -1],
      [-0.9243421052631582, 1.1102230246251565e-16, -1],
    ],
    testT: [
      [-1.0131578947368425, -1.2, -1],
      [-0.8421052631578951, 1.2000000000000002, 1],
      [-0.9473684210526319, -0.1999999999999999, -3],
      [1.6578947368421049, -0.3499999999999999, -1],
    ],
    testClipped: [
      [-1, -1, -1],
      [-0.8421052631578951, 1, 1],
      [-0.9473684210526319, -0.1999999999999999, -1],
      [1, -0.3499999999999999, -1],
    ],
  },
  standard: {
    mean: [114.70833333333333, 1.6875, 5],
    var: [1668.873263888889, 9.240885416666666, 0],
    scale: [40.85184529355912, 3.039882467574473, 1],
    testT: [
      [-0.433476950822716, -1.8709604929357895, 0],
      [-0.11525387163051028, 2.0765605471045574, 1],
      [-0.31108345882571375, -0.2261600595856449, -1],
      [4.535698824255573, -0.4728801245881666, 0],
    ],
  },
  robust: {
    center: [102.625, 1.5, 5],
    scale: [3.4375, 4, 1],
    testT: [
      [-1.6363636363636365, -1.375, 0],
      [2.1454545454545455, 1.625, 1],
      [-0.18181818181818182, -0.125, -1],
      [57.41818181818182, -0.3125, 0],
    ],
  },
  robust1090: {
    center: [102.625, 1.5, 5],
    scale: [6.099999999999994, 8.200000000000001, 1],
    testT: [
      [-0.9221311475409845, -0.6707317073170731, 0],
      [1.2090163934426241, 0.7926829268292682, 1],
      [-0.10245901639344272, -0.06097560975609755, -1],
      [32.356557377049214, -0.15243902439024387, 0],
    ],
  },
};

const a = (): Tensor => tensor(A, { dtype: 'float64' });
const b = (): Tensor => tensor(B, { dtype: 'float64' });

function close(actual: Tensor | readonly number[] | undefined, expected: unknown, tol = 1e-12): void {
  const got = (
    actual === undefined ? [] : Array.isArray(actual) ? actual : (actual as Tensor).toArraySync()
  ) as number[] | number[][];
  const flatGot = (got as unknown[]).flat(3) as number[];
  const flatWant = ([expected] as unknown[]).flat(4) as number[];
  expect(flatGot.length).toBe(flatWant.length);
  for (const [i, v] of flatWant.entries())
    expect(Math.abs(flatGot[i]! - v)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v)));
}

function caught(fn: () => unknown): GradfolioError {
  try {
    fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a GradfolioError');
}

describe('MinMaxScaler', () => {
  it('matches sklearn with featureRange [-1, 1] (seed 000), constant features scaled by 1', () => {
    const s = new MinMaxScaler({ featureRange: [-1, 1] });
    const t = s.fitTransform(a());
    close(s.dataMin, REF.minmax.dataMin);
    close(s.dataMax, REF.minmax.dataMax);
    close(s.scale, REF.minmax.scale);
    close(s.min, REF.minmax.min);
    close(t, REF.minmax.trainT);
    close(s.transform(b()), REF.minmax.testT);
    expect(s.nFeaturesIn).toBe(3);
    expect(s.nSamplesSeen).toBe(12);
  });

  it('clips unseen values into featureRange with clip: true', () => {
    const s = new MinMaxScaler({ featureRange: [-1, 1], clip: true }).fit(a());
    close(s.transform(b()), REF.minmax.testClipped);
  });

  it('defaults to [0, 1] and keeps float32 input float32', () => {
    const x = tensor([
      [0, 10],
      [5, 20],
      [10, 30],
    ]);
    const s = new MinMaxScaler();
    const t = s.fitTransform(x.float());
    expect(t.dtype).toBe('float32');
    close(t, [0, 0, 0.5, 0.5, 1, 1]);
    // int32 input is scaled as floats.
    expect(s.transform(x).dtype).toBe('float32');
  });
});

describe('StandardScaler', () => {
  it('matches sklearn: population std (ddof 0), zero-variance feature scaled by 1', () => {
    const s = new StandardScaler().fit(a());
    close(s.mean, REF.standard.mean);
    close(s.var, REF.standard.var);
    close(s.scale, REF.standard.scale);
    close(s.transform(b()), REF.standard.testT);
    // Not PyTorch's default unbiased std.
    const unbiased = (a().std(0).toArraySync() as number[])[0]!;
    expect(Math.abs(s.scale![0]! - unbiased)).toBeGreaterThan(1);
    close([unbiased * Math.sqrt(11 / 12)], [REF.standard.scale[0]]);
  });

  it('honours withMean / withStd', () => {
    const x = a();
    const noMean = new StandardScaler({ withMean: false }).fit(x);
    close(
      noMean.transform(b()),
      (B as number[][]).map((r) => r.map((v, j) => v / REF.standard.scale[j]!)),
    );
    const none = new StandardScaler({ withMean: false, withStd: false }).fit(x);
    expect(none.mean).toBeUndefined();
    expect(none.scale).toBeUndefined();
    const out = none.transform(x);
    expect(out).not.toBe(x);
    close(out, A);
  });
});

describe('RobustScaler', () => {
  it('matches sklearn: median and numpy linear 25-75 percentiles', () => {
    const s = new RobustScaler().fit(a());
    close(s.center, REF.robust.center);
    close(s.scale, REF.robust.scale);
    close(s.transform(b()), REF.robust.testT);
  });

  it('supports quantileRange [10, 90] (interpolated) and withCentering / withScaling', () => {
    const s = new RobustScaler({ quantileRange: [10, 90] }).fit(a());
    close(s.scale, REF.robust1090.scale);
    close(s.transform(b()), REF.robust1090.testT);
    const noCenter = new RobustScaler({ withCentering: false }).fit(a());
    expect(noCenter.center).toBeUndefined();
    close(
      noCenter.transform(b()),
      (B as number[][]).map((r) => r.map((v, j) => v / REF.robust.scale[j]!)),
    );
  });
});

describe('all scalers', () => {
  const make = () => [
    new MinMaxScaler({ featureRange: [-1, 1] }),
    new MinMaxScaler({ clip: true }),
    new StandardScaler(),
    new StandardScaler({ withMean: false }),
    new RobustScaler(),
    new RobustScaler({ quantileRange: [5, 95], withCentering: false }),
  ];

  it('round-trip: inverseTransform(transform(x)) == x, on [T, F] and [N, L, F]', () => {
    for (const s of make()) {
      s.fit(a());
      const x = b();
      const back = s.inverseTransform(s.transform(x));
      if (!(s instanceof MinMaxScaler && s.clip)) close(back, B, 1e-12);
      const x3 = a().reshape(3, 4, 3);
      const t3 = s.transform(x3);
      expect(t3.shape).toEqual([3, 4, 3]);
      close(t3, s.transform(a()).toArraySync());
      close(s.inverseTransform(t3), A, 1e-12);
    }
  });

  it('fits on the training rows only: statistics ignore later rows', () => {
    const all = tensor([...A, ...B], { dtype: 'float64' });
    const train = all.narrow(0, 0, A.length);
    const s = new MinMaxScaler({ featureRange: [-1, 1] }).fit(train);
    close(s.dataMax, REF.minmax.dataMax);
    close(s.transform(all).narrow(0, A.length, B.length), REF.minmax.testT);
  });

  it('ignores NaN when fitting, like sklearn', () => {
    const x = tensor(
      [
        [1, Number.NaN],
        [3, 2],
        [Number.NaN, 6],
      ],
      { dtype: 'float64' },
    );
    const s = new StandardScaler().fit(x);
    close(s.mean, [2, 4]);
    close(s.var, [1, 4]);
    const r = new RobustScaler().fit(x);
    close(r.center, [2, 4]);
  });

  it('JSON round trip: a restored scaler transforms identically', () => {
    for (const s of make()) {
      s.fit(a());
      const text = JSON.stringify(s);
      const Ctor = s.constructor as unknown as { fromJSON(j: unknown): typeof s };
      const restored = Ctor.fromJSON(text);
      const restoredObj = Ctor.fromJSON(JSON.parse(text));
      expect(restored.toJSON()).toEqual(s.toJSON());
      expect(restored.transform(b()).toArraySync()).toEqual(s.transform(b()).toArraySync());
      expect(restoredObj.inverseTransform(b()).toArraySync()).toEqual(s.inverseTransform(b()).toArraySync());
      expect(restored.nFeaturesIn).toBe(3);
      expect(restored.nSamplesSeen).toBe(12);
    }
    const json = new MinMaxScaler({ featureRange: [-1, 1] }).fit(a()).toJSON();
    expect(json).toMatchObject({
      type: 'MinMaxScaler',
      version: 1,
      options: { featureRange: [-1, 1], clip: false },
    });
    // An unfitted scaler round-trips as unfitted.
    const blank = RobustScaler.fromJSON(JSON.stringify(new RobustScaler({ quantileRange: [10, 90] })));
    expect(blank.isFitted).toBe(false);
    expect(blank.quantileRange).toEqual([10, 90]);
  });

  it('errors: transform before fit, wrong feature count, bad rank, bad options, bad JSON', () => {
    const e1 = caught(() => new StandardScaler().transform(a()));
    expect(e1.code).toBe('NOT_FITTED');
    expect(e1.message).toMatch(/StandardScaler instance is not fitted yet/);
    expect(caught(() => new RobustScaler().inverseTransform(a())).code).toBe('NOT_FITTED');
    const s = new MinMaxScaler().fit(a());
    const e2 = caught(() => s.transform(tensor([[1, 2]])));
    expect(e2.code).toBe('SHAPE_MISMATCH');
    expect(e2.message).toMatch(/X has 2 features .* but MinMaxScaler is expecting 3 features/);
    const e3 = caught(() => s.fit(tensor([1, 2, 3])));
    expect(e3.code).toBe('SHAPE_MISMATCH');
    expect(e3.message).toMatch(/got \[3\]/);
    expect(caught(() => s.fit(tensor([[]]).reshape(0, 3))).message).toMatch(/0 samples/);
    expect(caught(() => new MinMaxScaler({ featureRange: [1, -1] })).message).toMatch(/got \[1,-1\]/);
    expect(caught(() => new RobustScaler({ quantileRange: [80, 20] })).message).toMatch(
      /invalid quantile range \[80,20\]/,
    );
    expect(caught(() => MinMaxScaler.fromJSON(new StandardScaler().toJSON())).code).toBe('PARSE_ERROR');
    expect(caught(() => StandardScaler.fromJSON('{oops')).code).toBe('PARSE_ERROR');
    const bad = new StandardScaler().fit(a()).toJSON();
    expect(
      caught(() => StandardScaler.fromJSON({ ...bad, stats: { ...bad.stats, mean: [1, 2] } })).message,
    ).toMatch(/stats.mean must be an array of 3 numbers/);
  });
});
