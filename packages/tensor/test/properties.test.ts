/**
 * Property-based tests (fast-check): broadcasting, views and strides against a naive row-major
 * reference that knows nothing about strides.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, arange, broadcastShapes, GradfolioError, type Tensor, tensor } from '../src/index.js';

interface Ref {
  shape: number[];
  data: number[];
}

const numelOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}
function ravel(idx: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d]! + idx[d]!;
  return i;
}
function refMap(r: Ref, shape: number[], src: (idx: number[]) => number[]): Ref {
  const n = numelOf(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = r.data[ravel(src(unravel(i, shape)), r.shape)]!;
  return { shape, data };
}

function flat(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });

/** Two shapes that broadcast: derived from a common output shape by dropping dims and using 1s. */
const broadcastPair = shapeArb.chain((out) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: out.length }),
      fc.integer({ min: 0, max: out.length }),
      fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
      fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    )
    .map(([da, db, ma, mb]) => {
      const a = out.slice(da).map((s, i) => (ma[i + da] ? 1 : s));
      const b = out.slice(db).map((s, i) => (mb[i + db] ? 1 : s));
      return { a, b };
    }),
);

describe('broadcasting (property)', () => {
  it('broadcastShapes matches the NumPy rule and add() matches a naive broadcast', () => {
    fc.assert(
      fc.property(broadcastPair, ({ a, b }) => {
        const out = broadcastShapes('add', a, b);
        const nd = Math.max(a.length, b.length);
        const pa = [...new Array(nd - a.length).fill(1), ...a];
        const pb = [...new Array(nd - b.length).fill(1), ...b];
        expect(out).toEqual(pa.map((s, i) => Math.max(s, pb[i]!)));
        const ra: Ref = { shape: a, data: Array.from({ length: numelOf(a) }, (_, i) => i * 0.5) };
        const rb: Ref = { shape: b, data: Array.from({ length: numelOf(b) }, (_, i) => 100 + i) };
        const ta = tensor(ra.data, { dtype: 'float64' }).reshape(a);
        const tb = tensor(rb.data, { dtype: 'float64' }).reshape(b);
        const got = flat(add(ta, tb));
        const n = numelOf(out);
        for (let i = 0; i < n; i++) {
          const idx = unravel(i, out);
          const ia = idx.slice(nd - a.length).map((v, k) => (a[k] === 1 ? 0 : v));
          const ib = idx.slice(nd - b.length).map((v, k) => (b[k] === 1 ? 0 : v));
          expect(got[i]).toBe(ra.data[ravel(ia, a)]! + rb.data[ravel(ib, b)]!);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('incompatible shapes fail with SHAPE_MISMATCH naming both shapes', () => {
    fc.assert(
      fc.property(
        shapeArb.filter((s) => s.length > 0),
        fc.integer({ min: 0, max: 3 }),
        (s, k) => {
          const d = k % s.length;
          const other = [...s];
          other[d] = s[d]! + 1 === 1 ? 2 : s[d]! + 1;
          if (s[d] === 1) return; // 1 broadcasts with anything
          try {
            broadcastShapes('add', s, other);
            expect.unreachable();
          } catch (e) {
            expect(GradfolioError.isInstance(e) && e.code).toBe('SHAPE_MISMATCH');
            expect((e as Error).message).toContain(`[${s.join(', ')}]`);
            expect((e as Error).message).toContain(`[${other.join(', ')}]`);
          }
        },
      ),
    );
  });
});

type ViewOp =
  | { kind: 'transpose'; a: number; b: number }
  | { kind: 'slice'; dim: number; start: number; stop: number; step: number }
  | { kind: 'select'; dim: number; index: number }
  | { kind: 'unsqueeze'; dim: number }
  | { kind: 'squeeze' }
  | { kind: 'flip'; dim: number }
  | { kind: 'reshapeFlat' };

const viewOpArb: fc.Arbitrary<ViewOp> = fc.oneof(
  fc.record({ kind: fc.constant('transpose' as const), a: fc.nat(3), b: fc.nat(3) }),
  fc.record({
    kind: fc.constant('slice' as const),
    dim: fc.nat(3),
    start: fc.integer({ min: -4, max: 4 }),
    stop: fc.integer({ min: -4, max: 5 }),
    step: fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0),
  }),
  fc.record({ kind: fc.constant('select' as const), dim: fc.nat(3), index: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ kind: fc.constant('unsqueeze' as const), dim: fc.nat(3) }),
  fc.record({ kind: fc.constant('squeeze' as const) }),
  fc.record({ kind: fc.constant('flip' as const), dim: fc.nat(3) }),
  fc.record({ kind: fc.constant('reshapeFlat' as const) }),
);

/** Applies `op` to both; returns undefined when the op does not apply to this shape. */
function apply(t: Tensor, r: Ref, op: ViewOp): [Tensor, Ref] | undefined {
  const nd = r.shape.length;
  switch (op.kind) {
    case 'transpose': {
      if (nd < 1) return undefined;
      const a = op.a % nd;
      const b = op.b % nd;
      const shape = [...r.shape];
      [shape[a], shape[b]] = [shape[b]!, shape[a]!];
      return [
        t.transpose(a, b),
        refMap(r, shape, (i) => {
          const j = [...i];
          [j[a], j[b]] = [j[b]!, j[a]!];
          return j;
        }),
      ];
    }
    case 'slice': {
      if (nd < 1) return undefined;
      const d = op.dim % nd;
      const size = r.shape[d]!;
      // Python slice semantics, computed the slow way.
      const picks: number[] = [];
      const norm = (v: number, def: number, lo: number, hi: number) => {
        if (v < 0) v += size;
        return Math.min(Math.max(v, lo), hi) ?? def;
      };
      if (op.step > 0) {
        const s = norm(op.start, 0, 0, size);
        const e = norm(op.stop, size, 0, size);
        for (let i = s; i < e; i += op.step) picks.push(i);
      } else {
        const s = norm(op.start, size - 1, -1, size - 1);
        const e = norm(op.stop, -1, -1, size - 1);
        const down = -op.step;
        for (let i = s; i > e; i -= down) picks.push(i);
      }
      const shape = [...r.shape];
      shape[d] = picks.length;
      const spec: (string | number)[] = new Array(d).fill(':');
      spec.push(`${op.start}:${op.stop}:${op.step}`);
      return [
        t.index(...spec),
        refMap(r, shape, (i) => {
          const j = [...i];
          j[d] = picks[i[d]!]!;
          return j;
        }),
      ];
    }
    case 'select': {
      if (nd < 1) return undefined;
      const d = op.dim % nd;
      const size = r.shape[d]!;
      if (op.index >= size || op.index < -size) return undefined;
      const k = op.index < 0 ? op.index + size : op.index;
      const shape = r.shape.filter((_, i) => i !== d);
      return [t.select(d, op.index), refMap(r, shape, (i) => [...i.slice(0, d), k, ...i.slice(d)])];
    }
    case 'unsqueeze': {
      const d = op.dim % (nd + 1);
      const shape = [...r.shape];
      shape.splice(d, 0, 1);
      return [t.unsqueeze(d), refMap(r, shape, (i) => i.filter((_, k) => k !== d))];
    }
    case 'squeeze': {
      const keep = r.shape.map((s) => s !== 1);
      const shape = r.shape.filter((_, i) => keep[i]);
      return [
        t.squeeze(),
        refMap(r, shape, (i) => {
          let p = 0;
          return r.shape.map((s) => (s === 1 ? 0 : i[p++]!));
        }),
      ];
    }
    case 'flip': {
      if (nd < 1) return undefined;
      const d = op.dim % nd;
      return [
        t.flip(d),
        refMap(r, [...r.shape], (i) => {
          const j = [...i];
          j[d] = r.shape[d]! - 1 - i[d]!;
          return j;
        }),
      ];
    }
    case 'reshapeFlat':
      return [t.reshape(-1), { shape: [numelOf(r.shape)], data: [...r.data] }];
  }
}

describe('views and strides (property)', () => {
  it('chains of view ops match the naive reference, and views share storage', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        fc.array(viewOpArb, { maxLength: 6 }),
        (shape, ops) => {
          const n = numelOf(shape);
          let t = arange(n, { dtype: 'float64' }).reshape(shape);
          const base = t;
          let r: Ref = { shape, data: Array.from({ length: n }, (_, i) => i) };
          let copied = false;
          for (const op of ops) {
            const next = apply(t, r, op);
            if (next === undefined) continue;
            if (op.kind === 'flip' || (op.kind === 'reshapeFlat' && !t.isContiguous())) copied = true;
            [t, r] = next;
            expect(t.shape).toEqual(r.shape);
          }
          expect(flat(t)).toEqual(r.data);
          expect(flat(t.contiguous())).toEqual(r.data);
          if (!copied) expect(t.storage).toBe(base.storage);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('view() succeeds exactly when the strides allow it, reshape() always gives row-major values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }),
        fc.nat(23),
        (shape, permSeed) => {
          const n = numelOf(shape);
          const dims = shape.map((_, i) => i);
          // A deterministic permutation from the seed.
          for (let i = dims.length - 1; i > 0; i--) {
            const j = (permSeed + i * 7) % (i + 1);
            [dims[i], dims[j]] = [dims[j]!, dims[i]!];
          }
          const t = arange(n, { dtype: 'float64' }).reshape(shape).permute(dims);
          const logical = flat(t);
          const target = [t.shape.slice(0, -1).reduce((a, b) => a * b, 1), t.shape.at(-1)!];
          const r = t.reshape(target);
          expect(flat(r)).toEqual(logical);
          let viewed: Tensor | undefined;
          try {
            viewed = t.view(target);
          } catch (e) {
            expect(GradfolioError.isInstance(e) && e.code).toBe('NOT_VIEWABLE');
          }
          if (viewed) {
            expect(viewed.storage).toBe(t.storage);
            expect(flat(viewed)).toEqual(logical);
          } else {
            expect(r.storage).not.toBe(t.storage);
          }
          // A contiguous tensor can always be viewed.
          expect(flat(t.contiguous().view(-1))).toEqual(logical);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes through a view land in the base (seed 004)', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const v = a.view(1, 4);
    v.indexPut_([0, 0], 10);
    expect(a.toArraySync()).toEqual([
      [10, 2],
      [3, 4],
    ]);
    const e = tensor([[[1, 2, 3]]]);
    const s = e.squeeze();
    s.indexPut_([0], 10);
    expect(e.toArraySync()).toEqual([[[10, 2, 3]]]);
    expect(s.toArraySync()).toEqual([10, 2, 3]);
  });
});
