/**
 * Autograd cases of `pnpm bench`: the backward pass of a 1,000-node chain of small ops and of a
 * 50-step LSTM-like recurrence written with plain ops, for gradfolio (`@gradfolio/autograd`), PyTorch
 * (the system's torch through `/usr/bin/python3`, `torch_autograd.py`) and TensorFlow.js (cpu and wasm,
 * `tf.grads`), on the same inputs. Each case is timed as forward alone (recording the graph), forward +
 * backward, and backward alone (a fresh graph is built untimed before every run; TensorFlow.js's
 * `tf.grads` cannot run its backward alone, so its figure is derived: forward+backward − forward).
 * The per-node figure divides the backward time by the number of distinct autograd nodes reachable
 * from the loss (AccumulateGrad nodes of the leaves included), counted the same way in both
 * frameworks: by walking `gradFn.nextFunctions` / `grad_fn.next_functions` once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Node } from '@gradfolio/autograd';
import * as gf from '@gradfolio/tensor';
import * as tf from '@tensorflow/tfjs';
import { type BenchResult, measure, measureWithSetup, randData, record, useTf } from './harness.js';

const PYTHON = '/usr/bin/python3';

type ChainOpName = 'mul' | 'add' | 'sub' | 'tanh' | 'sigmoid';
/**
 * One cycle of the chain. Near 0 it is close to the identity (2·tanh(x/2) ≈ x, 4·sigmoid(x) − 2 ≈ x),
 * so 1,000 ops neither blow up nor drive the gradient into float32 denormals.
 */
const CHAIN_OPS: ReadonlyArray<readonly [ChainOpName, number]> = [
  ['mul', 0.5],
  ['tanh', 0],
  ['add', 1],
  ['mul', 2],
  ['sub', 2],
  ['sigmoid', 0],
  ['mul', 4],
  ['sub', 2],
];
const CHAIN_LENGTH = 1000;
const CHAIN_SIZE = 16;
const LSTM = { steps: 50, batch: 16, input: 8, hidden: 32 } as const;

interface TorchCase {
  fwd_ms: number;
  fwdbwd_ms: number;
  bwd_ms: number;
  runs: [number, number, number];
  nodes: number;
  loss: number;
  grads: number[][];
}
interface TorchOutput {
  version: string;
  default_threads: number;
  python: string;
  runs: Array<{ threads: number; chain: TorchCase; lstm: TorchCase }>;
}

/** One case's numbers per implementation, for the summary. */
interface CaseFigures {
  fwd?: BenchResult;
  fwdbwd?: BenchResult;
  bwd?: BenchResult;
  nodes?: number;
  loss?: number;
  grads?: Float32Array[];
}

function gfChainStep(y: gf.Tensor, op: ChainOpName, c: number): gf.Tensor {
  switch (op) {
    case 'mul':
      return y.mul(c);
    case 'add':
      return y.add(c);
    case 'sub':
      return y.sub(c);
    case 'tanh':
      return y.tanh();
    case 'sigmoid':
      return y.sigmoid();
  }
}

function tfChainStep(y: tf.Tensor, op: ChainOpName, c: number): tf.Tensor {
  switch (op) {
    case 'mul':
      return tf.mul(y, c);
    case 'add':
      return tf.add(y, c);
    case 'sub':
      return tf.sub(y, c);
    case 'tanh':
      return tf.tanh(y);
    case 'sigmoid':
      return tf.sigmoid(y);
  }
}

/** Distinct nodes reachable from `root` through `nextFunctions` (AccumulateGrad included). */
function countNodes(root: gf.GradFnLike | undefined): number {
  const seen = new Set<Node>();
  const stack: Node[] = root instanceof Node ? [root] : [];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of n.nextFunctions) if (e !== undefined) stack.push(e[0]);
  }
  return seen.size;
}

function maxRelDiff(a: readonly Float32Array[], b: readonly ArrayLike<number>[]): number {
  let worst = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    let scale = 1e-6;
    for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(y[i]!));
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / scale);
  }
  return worst;
}

function runTorch(input: unknown): TorchOutput | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const script = fileURLToPath(new URL('./torch_autograd.py', import.meta.url));
  const r = spawnSync(PYTHON, [script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error !== undefined) return `${PYTHON} failed to start: ${r.error.message}`;
  if (r.status !== 0) {
    const err = r.stderr.trim().split('\n');
    return `${PYTHON} ${script} exited with ${r.status}: ${err[err.length - 1] ?? ''}`;
  }
  try {
    return JSON.parse(r.stdout) as TorchOutput;
  } catch {
    return `could not parse the torch script's output: ${r.stdout.slice(0, 200)}`;
  }
}

function fmt(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

function ratio(ours: number | undefined, theirs: number | undefined): string {
  if (ours === undefined || theirs === undefined || theirs <= 0) return '-';
  const r = ours / theirs;
  return `${r.toFixed(2)} (${r <= 1 ? `${(1 / r).toFixed(2)}x faster` : `${r.toFixed(2)}x slower`})`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

/** Runs the chain and LSTM cases for every implementation and prints a summary. */
export async function benchAutograd(quick: boolean): Promise<void> {
  // Generous warm-up: the first few hundred ms of either side (V8's JIT tiers, torch's allocator
  // caches) otherwise skew whichever measurement comes first.
  const timing = { warmup: quick ? 10 : 30, runs: quick ? 11 : 31, minMs: quick ? 200 : 1000 };
  const chainX = randData(CHAIN_SIZE, 11);
  const H4 = 4 * LSTM.hidden;
  const lstmX = randData(LSTM.steps * LSTM.batch * LSTM.input, 12);
  const wxData = randData(LSTM.input * H4, 13).map((v) => v * 0.2);
  const whData = randData(LSTM.hidden * H4, 14).map((v) => v * 0.2);
  const bData = randData(H4, 15).map((v) => v * 0.1);

  const chainParams = { ops: CHAIN_LENGTH, size: CHAIN_SIZE };
  const lstmParams = { ...LSTM, gates: H4 };
  const figures = new Map<string, { chain: CaseFigures; lstm: CaseFigures }>();
  const entry = (impl: string) => {
    let e = figures.get(impl);
    if (e === undefined) {
      e = { chain: {}, lstm: {} };
      figures.set(impl, e);
    }
    return e;
  };

  // ------------------------------------------------------------------------------ PyTorch
  const torchInput = {
    chain: { ops: CHAIN_OPS, length: CHAIN_LENGTH, x: Array.from(chainX) },
    lstm: {
      ...LSTM,
      x: Array.from(lstmX),
      wx: Array.from(wxData),
      wh: Array.from(whData),
      b: Array.from(bData),
    },
    timing,
  };
  console.error('  autograd: running the torch side (/usr/bin/python3) ...');
  const torchOut = runTorch(torchInput);
  const torchImpls: string[] = [];
  if (typeof torchOut === 'string') {
    console.error(`  autograd: skipping PyTorch: ${torchOut}`);
  } else {
    console.error(
      `  torch ${torchOut.version} (python ${torchOut.python}), default threads ${torchOut.default_threads}` +
        (torchOut.default_threads === 1 ? ' (so only the 1-thread run)' : ''),
    );
    for (const run of torchOut.runs) {
      const impl = `torch-${run.threads}t`;
      torchImpls.push(impl);
      for (const [name, c, params] of [
        ['chain', run.chain, chainParams],
        ['lstm', run.lstm, lstmParams],
      ] as const) {
        const f = entry(impl)[name];
        f.fwd = record(`autograd-${name}-fwd`, impl, params, c.fwd_ms, c.runs[0]);
        f.fwdbwd = record(`autograd-${name}-fwd+bwd`, impl, params, c.fwdbwd_ms, c.runs[1]);
        f.bwd = record(`autograd-${name}-bwd`, impl, params, c.bwd_ms, c.runs[2]);
        f.nodes = c.nodes;
        f.loss = c.loss;
        f.grads = c.grads.map((g) => Float32Array.from(g));
      }
    }
  }

  // ------------------------------------------------------------------------------ gradfolio
  {
    const impl = 'gradfolio-cpu';
    const x = gf.tensor(chainX).requiresGrad_();
    const forward = () => {
      let y = x;
      for (let i = 0; i < CHAIN_LENGTH; i++) {
        const [op, c] = CHAIN_OPS[i % CHAIN_OPS.length]!;
        y = gfChainStep(y, op, c);
      }
      return y.sum();
    };
    const fresh = () => {
      x.grad = undefined;
      return forward();
    };
    const backward = (loss: gf.Tensor) => {
      loss.backward();
      return x.grad!.dataSync();
    };
    const f = entry(impl).chain;
    f.fwd = await measure('autograd-chain-fwd', impl, chainParams, () => forward().dataSync(), timing);
    f.fwdbwd = await measure('autograd-chain-fwd+bwd', impl, chainParams, () => backward(fresh()), timing);
    f.bwd = await measureWithSetup('autograd-chain-bwd', impl, chainParams, fresh, backward, timing);
    const loss = fresh();
    f.nodes = countNodes(loss.gradFn);
    f.loss = loss.itemSync() as number;
    f.grads = [Float32Array.from(backward(loss))];
  }
  {
    const impl = 'gradfolio-cpu';
    const xAll = gf.tensor(lstmX).reshape(LSTM.steps, LSTM.batch, LSTM.input);
    const xs = Array.from({ length: LSTM.steps }, (_, t) => xAll.select(0, t));
    const wx = gf.tensor(wxData).reshape(LSTM.input, H4).requiresGrad_();
    const wh = gf.tensor(whData).reshape(LSTM.hidden, H4).requiresGrad_();
    const b = gf.tensor(bData).requiresGrad_();
    const h0 = gf.zeros([LSTM.batch, LSTM.hidden]);
    const c0 = gf.zeros([LSTM.batch, LSTM.hidden]);
    const forward = () => {
      let h = h0;
      let c = c0;
      for (let t = 0; t < LSTM.steps; t++) {
        const gates = xs[t]!.matmul(wx).add(h.matmul(wh)).add(b);
        const [i, f, g, o] = gates.chunk(4, 1) as [gf.Tensor, gf.Tensor, gf.Tensor, gf.Tensor];
        c = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
        h = o.sigmoid().mul(c.tanh());
      }
      return h.sum();
    };
    const fresh = () => {
      wx.grad = undefined;
      wh.grad = undefined;
      b.grad = undefined;
      return forward();
    };
    const backward = (loss: gf.Tensor) => {
      loss.backward();
      return [wx.grad!.dataSync(), wh.grad!.dataSync(), b.grad!.dataSync()];
    };
    const f = entry(impl).lstm;
    f.fwd = await measure('autograd-lstm-fwd', impl, lstmParams, () => forward().dataSync(), timing);
    f.fwdbwd = await measure('autograd-lstm-fwd+bwd', impl, lstmParams, () => backward(fresh()), timing);
    f.bwd = await measureWithSetup('autograd-lstm-bwd', impl, lstmParams, fresh, backward, timing);
    const loss = fresh();
    f.nodes = countNodes(loss.gradFn);
    f.loss = loss.itemSync() as number;
    f.grads = backward(loss).map((g) => Float32Array.from(g));
  }

  // ------------------------------------------------------------------------------ TensorFlow.js
  for (const backend of ['wasm', 'cpu'] as const) {
    await useTf(backend);
    const impl = `tfjs-${backend}`;
    const x = tf.tensor1d(chainX);
    const chainLoss = (v: tf.Tensor) => {
      let y = v;
      for (let i = 0; i < CHAIN_LENGTH; i++) {
        const [op, c] = CHAIN_OPS[i % CHAIN_OPS.length]!;
        y = tfChainStep(y, op, c);
      }
      return tf.sum(y);
    };
    const chainGrad = tf.grads((v: tf.Tensor) => chainLoss(v));
    const fc = entry(impl).chain;
    fc.fwd = await measure(
      'autograd-chain-fwd',
      impl,
      chainParams,
      () => tf.tidy(() => chainLoss(x).dataSync()),
      timing,
    );
    fc.fwdbwd = await measure(
      'autograd-chain-fwd+bwd',
      impl,
      chainParams,
      () => tf.tidy(() => chainGrad([x])[0]!.dataSync()),
      timing,
    );
    fc.loss = tf.tidy(() => chainLoss(x).dataSync()[0]!);
    fc.grads = [tf.tidy(() => chainGrad([x])[0]!.dataSync() as Float32Array)];

    const xs = tf.tidy(() => tf.unstack(tf.tensor3d(lstmX, [LSTM.steps, LSTM.batch, LSTM.input])));
    const wx = tf.tensor2d(wxData, [LSTM.input, H4]);
    const wh = tf.tensor2d(whData, [LSTM.hidden, H4]);
    const b = tf.tensor1d(bData);
    const lstmLoss = (wxv: tf.Tensor, whv: tf.Tensor, bv: tf.Tensor) => {
      let h: tf.Tensor = tf.zeros([LSTM.batch, LSTM.hidden]);
      let c: tf.Tensor = tf.zeros([LSTM.batch, LSTM.hidden]);
      for (let t = 0; t < LSTM.steps; t++) {
        const gates = tf.add(tf.add(tf.matMul(xs[t]!, wxv), tf.matMul(h, whv)), bv);
        const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
      }
      return tf.sum(h);
    };
    const lstmGrads = tf.grads((a: tf.Tensor, w: tf.Tensor, v: tf.Tensor) => lstmLoss(a, w, v));
    const fl = entry(impl).lstm;
    fl.fwd = await measure(
      'autograd-lstm-fwd',
      impl,
      lstmParams,
      () => tf.tidy(() => lstmLoss(wx, wh, b).dataSync()),
      timing,
    );
    fl.fwdbwd = await measure(
      'autograd-lstm-fwd+bwd',
      impl,
      lstmParams,
      () => tf.tidy(() => lstmGrads([wx, wh, b]).map((g) => g.dataSync())),
      timing,
    );
    fl.loss = tf.tidy(() => lstmLoss(wx, wh, b).dataSync()[0]!);
    fl.grads = tf.tidy(() => lstmGrads([wx, wh, b]).map((g) => g.dataSync() as Float32Array));
    tf.dispose([x, wx, wh, b, ...xs]);
  }

  // ------------------------------------------------------------------------------ summary
  const ours = figures.get('gradfolio-cpu')!;
  console.log(
    `\nautograd: chain = ${CHAIN_LENGTH} ops (cycle ${CHAIN_OPS.map(([op, c]) => (op === 'tanh' || op === 'sigmoid' ? op : `${op} ${c}`)).join(', ')}) on ${CHAIN_SIZE} floats, then sum; ` +
      `lstm = ${LSTM.steps} steps, batch ${LSTM.batch}, input ${LSTM.input}, hidden ${LSTM.hidden} (Wx [${LSTM.input}, ${H4}], Wh [${LSTM.hidden}, ${H4}], b [${H4}]), loss = h.sum(). ` +
      'bwd of tfjs = fwd+bwd − fwd (tf.grads has no separate backward). ratio = gradfolio / peer (< 1: gradfolio faster).',
  );
  const rows: string[][] = [
    [
      'case',
      'impl',
      'fwd ms',
      'fwd+bwd ms',
      'bwd ms',
      'nodes',
      'bwd µs/node',
      'fwd+bwd ratio',
      'bwd ratio',
      'max rel grad diff',
    ],
  ];
  for (const name of ['chain', 'lstm'] as const) {
    const base = ours[name];
    for (const [impl, all] of figures) {
      const f = all[name];
      const bwd =
        f.bwd?.ms ?? (f.fwdbwd !== undefined && f.fwd !== undefined ? f.fwdbwd.ms - f.fwd.ms : undefined);
      const derived = f.bwd === undefined && bwd !== undefined;
      const perNode = bwd !== undefined && f.nodes !== undefined ? ((bwd * 1000) / f.nodes).toFixed(2) : '-';
      const isBase = impl === 'gradfolio-cpu';
      rows.push([
        name,
        impl,
        fmt(f.fwd?.ms),
        fmt(f.fwdbwd?.ms),
        `${derived ? '~' : ''}${fmt(bwd)}`,
        f.nodes === undefined ? '-' : String(f.nodes),
        perNode,
        isBase ? '' : ratio(base.fwdbwd?.ms, f.fwdbwd?.ms),
        isBase ? '' : ratio(base.bwd?.ms, bwd),
        isBase || f.grads === undefined || base.grads === undefined
          ? ''
          : maxRelDiff(base.grads, f.grads).toExponential(1),
      ]);
    }
  }
  printTable(rows);
  for (const impl of torchImpls) {
    for (const name of ['chain', 'lstm'] as const) {
      const o = ours[name];
      const t = figures.get(impl)![name];
      if (o.bwd === undefined || t.bwd === undefined || o.nodes === undefined || t.nodes === undefined)
        continue;
      const ourPer = (o.bwd.ms * 1000) / o.nodes;
      const theirPer = (t.bwd.ms * 1000) / t.nodes;
      console.log(
        `goal (${name}): backward per node ${ourPer.toFixed(2)} µs (${o.nodes} nodes) vs ${impl} ${theirPer.toFixed(2)} µs (${t.nodes} nodes): ` +
          `${ourPer <= theirPer ? 'met' : 'not met'} (${(ourPer / theirPer).toFixed(2)}x); whole backward ${fmt(o.bwd.ms)} vs ${fmt(t.bwd.ms)} ms` +
          (o.nodes === t.nodes
            ? ''
            : ` (over ${impl}'s ${t.nodes} nodes for the same computation: ${((o.bwd.ms * 1000) / t.nodes).toFixed(2)} µs/node)`),
      );
    }
  }
}
