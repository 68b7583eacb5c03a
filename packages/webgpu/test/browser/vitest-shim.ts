/**
 * Stands in for `vitest` in the browser bundle of the conformance suite (esbuild aliases the import):
 * `runConformance` of `@gradfolio/tensor/testing` registers its cases with `describe`/`it`, and the
 * random-factory properties assert with `expect`. Vitest itself cannot be bundled for a plain page (it
 * needs Node), so this module records the tests for `entry.ts` to run, and implements the matchers the
 * testing module uses. A matcher it lacks throws saying so, and a missing export fails the bundle.
 */

/** The context a test function receives: only `skip`, which `runConformance` uses. */
export interface ShimTestContext {
  /** Stops the test and records it as skipped with `note`. */
  skip(note?: string): never;
}

/** A registered test: the names of its `describe` blocks, its own name, and its body or skip reason. */
export interface ShimTest {
  readonly path: readonly string[];
  readonly name: string;
  readonly fn?: (ctx: ShimTestContext) => unknown;
  readonly skipReason?: string;
}

/** Thrown by {@link ShimTestContext.skip}; the runner records the test as skipped. */
export class SkipSignal extends Error {
  constructor(readonly note: string) {
    super(`skipped: ${note}`);
  }
}

/** Every test registered so far, in registration order. */
export const registeredTests: ShimTest[] = [];
const suiteStack: string[] = [];

/** Groups the tests `body` registers under `name` (synchronous, like vitest's collection phase). */
export function describe(name: string, body: () => void): void {
  suiteStack.push(name);
  try {
    body();
  } finally {
    suiteStack.pop();
  }
}

function register(name: string, fn: (ctx: ShimTestContext) => unknown): void {
  registeredTests.push({ path: [...suiteStack], name, fn });
}

/** Registers a test; `it.skip` registers one that is reported as skipped. */
export const it = Object.assign(register, {
  skip(name: string, _fn?: unknown): void {
    registeredTests.push({ path: [...suiteStack], name, skipReason: 'it.skip' });
  },
});

/** Alias of {@link it}, as in vitest. */
export const test = it;

function fmt(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return Object.is(v, -0) ? '-0' : String(v);
  if (ArrayBuffer.isView(v))
    return `${v.constructor.name}[${Array.from(v as unknown as ArrayLike<unknown>)}]`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Vitest's `toEqual`: recursive equality, `Object.is` on leaves, properties holding `undefined` ignored. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b) || ArrayBuffer.isView(a) !== ArrayBuffer.isView(b)) return false;
  if (Array.isArray(a) || ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.constructor !== y.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!deepEqual(ra[k], rb[k])) return false;
  return true;
}

class Assertion {
  constructor(
    private readonly actual: unknown,
    private readonly message: string | undefined,
    private readonly negated: boolean,
  ) {}

  get not(): Assertion {
    return guard(new Assertion(this.actual, this.message, !this.negated));
  }

  private check(ok: boolean, what: string): void {
    if (ok === this.negated) {
      const prefix = this.message === undefined ? '' : `${this.message}: `;
      throw new Error(`${prefix}expected ${fmt(this.actual)} ${this.negated ? 'not ' : ''}${what}`);
    }
  }

  toBe(want: unknown): void {
    this.check(Object.is(this.actual, want), `to be ${fmt(want)}`);
  }
  toEqual(want: unknown): void {
    this.check(deepEqual(this.actual, want), `to equal ${fmt(want)}`);
  }
  toStrictEqual(want: unknown): void {
    this.toEqual(want);
  }
  toBeLessThan(n: number): void {
    this.check((this.actual as number) < n, `to be less than ${n}`);
  }
  toBeLessThanOrEqual(n: number): void {
    this.check((this.actual as number) <= n, `to be less than or equal to ${n}`);
  }
  toBeGreaterThan(n: number): void {
    this.check((this.actual as number) > n, `to be greater than ${n}`);
  }
  toBeGreaterThanOrEqual(n: number): void {
    this.check((this.actual as number) >= n, `to be greater than or equal to ${n}`);
  }
  toBeCloseTo(want: number, digits = 2): void {
    this.check(Math.abs((this.actual as number) - want) < 10 ** -digits / 2, `to be close to ${want}`);
  }
  toBeTruthy(): void {
    this.check(Boolean(this.actual), 'to be truthy');
  }
  toBeFalsy(): void {
    this.check(!this.actual, 'to be falsy');
  }
  toBeNaN(): void {
    this.check(Number.isNaN(this.actual), 'to be NaN');
  }
  toBeUndefined(): void {
    this.check(this.actual === undefined, 'to be undefined');
  }
  toBeDefined(): void {
    this.check(this.actual !== undefined, 'to be defined');
  }
  toHaveLength(n: number): void {
    this.check((this.actual as { length?: unknown })?.length === n, `to have length ${n}`);
  }
}

// A matcher missing here would otherwise surface as "x is not a function" deep inside a property test.
function guard(a: Assertion): Assertion {
  return new Proxy(a, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && !(prop in target)) {
        throw new Error(
          `expect(...).${prop} is not implemented by test/browser/vitest-shim.ts: add it there`,
        );
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** A subset of vitest's `expect` (the matchers above, with `.not` and an optional message). */
export function expect(actual: unknown, message?: string): Assertion {
  return guard(new Assertion(actual, message, false));
}
