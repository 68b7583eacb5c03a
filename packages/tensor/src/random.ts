import { GradfolioError } from './errors.js';

/**
 * A seedable pseudo-random generator (xoshiro128**, seeded through splitmix32). All random factories
 * draw from the default generator unless given `{ generator }`, so a seed reproduces a run on every
 * backend (numbers are drawn on the host and uploaded).
 *
 * @example
 * ```ts
 * const g = new Generator().manualSeed(42);
 * const x = randn([2, 3], { generator: g });
 * ```
 */
export class Generator {
  #s = new Uint32Array(4);
  #seed = 0;
  #spareNormal: number | undefined;

  constructor(seed = 0x2545f491) {
    this.manualSeed(seed);
  }

  /**
   * Re-seeds the generator; returns it.
   * @example
   * ```ts
   * new Generator().manualSeed(0);
   * ```
   */
  manualSeed(seed: number | bigint): this {
    const s =
      typeof seed === 'bigint' ? Number(seed & 0xffffffffn) ^ Number((seed >> 32n) & 0xffffffffn) : seed;
    if (!Number.isFinite(s)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `manualSeed: seed must be a finite number, got ${String(seed)}`,
        {
          op: 'manualSeed',
        },
      );
    }
    this.#seed = Math.floor(s);
    let x = this.#seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32 spreads a small seed over the whole state.
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    this.#spareNormal = undefined;
    return this;
  }

  /** The seed last set. @example `g.initialSeed()` */
  initialSeed(): number {
    return this.#seed;
  }

  /** The full state, to save and restore a stream exactly. @example `const s = g.getState()` */
  getState(): number[] {
    return [...this.#s, this.#spareNormal === undefined ? Number.NaN : this.#spareNormal];
  }

  /** Restores a state from `getState()`. @example `g.setState(s)` */
  setState(state: readonly number[]): this {
    if (state.length !== 5) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `setState: expected a state of 5 numbers, got ${state.length}`,
        { op: 'setState' },
      );
    }
    for (let i = 0; i < 4; i++) this.#s[i] = state[i]! >>> 0;
    const spare = state[4]!;
    this.#spareNormal = Number.isNaN(spare) ? undefined : spare;
    return this;
  }

  /** Next raw 32-bit unsigned integer. @example `g.nextUint32()` */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. @example `g.nextDouble()` */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). @example `g.nextFloat()` */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Standard normal (Box-Muller, both values used). @example `g.nextNormal()` */
  nextNormal(): number {
    if (this.#spareNormal !== undefined) {
      const v = this.#spareNormal;
      this.#spareNormal = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.nextDouble();
    const v = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [low, high). @example `g.nextInt(0, 10)` */
  nextInt(low: number, high: number): number {
    const range = high - low;
    if (range <= 0x100000000) {
      // Rejection sampling removes modulo bias.
      const limit = Math.floor(0x100000000 / range) * range;
      let x = this.nextUint32();
      while (x >= limit) x = this.nextUint32();
      return low + (x % range);
    }
    return low + Math.floor(this.nextDouble() * range);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The generator random factories use by default.
 *
 * @example
 * ```ts
 * defaultGenerator.manualSeed(1);
 * ```
 */
export const defaultGenerator: Generator = new Generator();

/**
 * Seeds the default generator (PyTorch's `torch.manual_seed`); returns it.
 *
 * @example
 * ```ts
 * manualSeed(0);
 * const a = randn([3]);
 * manualSeed(0);
 * const b = randn([3]); // equal to a
 * ```
 */
export function manualSeed(seed: number | bigint): Generator {
  return defaultGenerator.manualSeed(seed);
}
