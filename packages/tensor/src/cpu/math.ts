/**
 * Scalar special functions the CPU kernels need that `Math` lacks.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/** The error function, accurate to about 1e-15 (series near 0, continued fraction for erfc beyond). @internal */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (ax >= 6) return x > 0 ? 1 : -1;
  // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) via modified Lentz.
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    d = ax + a * d;
    d = d === 0 ? tiny : d;
    c = ax + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** Round half to even (PyTorch's `round`). @internal */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Fast float32 transcendental functions, emitted as inline statements into generated kernels: float64
// arithmetic with errors below 1e-8 relative (within one float32 ulp after rounding), 2-4x faster than
// V8's out-of-line Math.exp / Math.tanh in a hot loop.
const POW2_BIAS = 1075;
/** 2^(i - 1075) for i in [0, 2100]: the scale step of `exp` over float64's whole range. @internal */
export const POW2: Float64Array = new Float64Array(2 * POW2_BIAS + 1).map((_, i) => 2 ** (i - POW2_BIAS));

/**
 * Statements computing `out = e^arg` (both names of JS variables declared by the caller). Range
 * reduction e^x = 2^k e^r with |r| <= ln2/2, then the degree-8 Taylor polynomial of e^r.
 * @internal
 */
export function expStatements(arg: string, out: string): string {
  return `if (${arg} > -745 && ${arg} < 709) {
    const k_ = Math.floor(${arg} * 1.4426950408889634 + 0.5);
    const r_ = ${arg} - k_ * 0.6931471803691238 - k_ * 1.9082149292705877e-10;
    ${out} = (1 + r_ * (1 + r_ * (0.5 + r_ * (0.16666666666666666 + r_ * (0.041666666666666664 + r_ * (0.008333333333333333 + r_ * (0.001388888888888889 + r_ * (0.0001984126984126984 + r_ * 0.0000248015873015873)))))))) * H.POW2[k_ + ${POW2_BIAS}];
  } else ${out} = ${arg} !== ${arg} ? ${arg} : ${arg} > 0 ? Infinity : 0;`;
}

/** Statements computing `out = tanh(arg)`: an odd Taylor polynomial near 0, else via e^(-2|x|). @internal */
export function tanhStatements(arg: string, out: string): string {
  return `{ const a_ = ${arg} < 0 ? -${arg} : ${arg};
    if (a_ < 0.55) { const z_ = ${arg} * ${arg};
      ${out} = ${arg} * (1 + z_ * (-0.3333333333333333 + z_ * (0.13333333333333333 + z_ * (-0.05396825396825397 + z_ * (0.021869488536155203 + z_ * (-0.008863235529902197 + z_ * (0.003592128036572481 + z_ * (-0.0014558343870513183 + z_ * 0.0005900274409455859))))))));
    } else if (a_ < 20) { const m_ = -2 * a_; let t_ = 0; ${expStatements('m_', 't_')} const q_ = (1 - t_) / (1 + t_); ${out} = ${arg} < 0 ? -q_ : q_; }
    else ${out} = ${arg} !== ${arg} ? ${arg} : ${arg} > 0 ? 1 : -1; }`;
}

/** Statements computing `out = 1 / (1 + e^-arg)`. @internal */
export function sigmoidStatements(arg: string, out: string): string {
  return `{ const n_ = -${arg}; let e_ = 0; ${expStatements('n_', 'e_')} ${out} = 1 / (1 + e_); }`;
}
