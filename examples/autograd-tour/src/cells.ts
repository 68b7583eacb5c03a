/**
 * Every autograd cell of seeds 001, 002 and 004, rewritten with gradfolio. Each cell prints what the
 * notebook printed (`lines`) and returns the numbers behind it (`values`), so that test/tour.test.ts can
 * hold them against the values the notebooks show.
 *
 * Random tensors cannot match the notebooks' (they ran unseeded PyTorch); where a later cell's printed
 * value depends on them, the cell rebuilds the tensors from the values the notebook printed instead.
 */
import * as gf from 'gradfolio';

/** A value a cell hands to the tests: a number, a flat list of numbers, a string, a flag, or absent. */
export type CellValue = number | readonly number[] | string | boolean | null;

/** What a cell produced: the lines it prints and the values the tests check. */
export interface CellResult {
  readonly lines: readonly string[];
  readonly values: Readonly<Record<string, CellValue>>;
}

/** One notebook cell and its gradfolio equivalent. */
export interface Cell {
  /** Which seed notebook: `'001'`, `'002'` or `'004'`. */
  readonly seed: '001' | '002' | '004';
  /** The notebook's cell label(s), e.g. `'In [9]'`. */
  readonly id: string;
  /** The PyTorch code of the cell (shortened where it is long). */
  readonly torch: string;
  /** Why a value differs from the notebook or how it was reproduced, when that needs saying. */
  readonly note?: string;
  /** Runs the gradfolio version. */
  readonly run: () => CellResult | Promise<CellResult>;
}

/** JavaScript writes 2.0 as 2, so float tensors from whole numbers name their dtype. */
const F32 = { dtype: 'float32' } as const;

/** The flat values of a CPU tensor as plain numbers. */
function vals(t: gf.Tensor | undefined): number[] {
  if (t === undefined) return [];
  return Array.from(t.dataSync() as ArrayLike<number>, Number);
}

/** A tensor's text, or PyTorch's `None` for a missing gradient. */
function show(t: gf.Tensor | undefined): string {
  return t === undefined ? 'None' : t.toString();
}

/** The BTCUSDT rows seed 001 printed (its head and tail): pipe-separated, no header, unix seconds. */
export const BTCUSDT_ROWS = [
  '1502942400|4261.48|4261.48|4261.48|4261.48|1.775183',
  '1502942460|4261.48|4261.48|4261.48|4261.48|0.000000',
  '1502942520|4280.56|4280.56|4280.56|4280.56|0.261074',
  '1502942580|4261.48|4261.48|4261.48|4261.48|0.012008',
  '1502942640|4261.48|4261.48|4261.48|4261.48|0.140796',
  '1503002100|4302.96|4302.96|4302.96|4302.96|0.052740',
  '1503002160|4302.96|4302.96|4302.96|4302.96|0.585532',
  '1503002220|4301.91|4301.91|4301.91|4301.91|0.445848',
  '1503002280|4301.91|4301.91|4301.91|4301.91|0.372403',
  '1503002340|4301.91|4303.18|4262.53|4303.18|1.161897',
].join('\n');

const BTC_NAMES = ['timestamp', 'open', 'high', 'low', 'close', 'volume'] as const;
const BTC_OPTIONS = {
  sep: '|',
  nrows: 1000,
  header: false,
  usecols: [0, 1, 2, 3, 4, 5],
  names: BTC_NAMES,
} as const;

/** Seed 001's row 100, as its cell 7 printed it. */
const X100 = [[4291.3701, 4291.3701, 4291.3701, 4291.3701, 0]];

/** Seed 001's data-dependent loss: a 5% penalty on gains, the square of losses. */
export function customTradingLoss(pnl: gf.Tensor): gf.Tensor {
  // Python's `if pnl > 0` reads the value; in TypeScript that read is explicit.
  const v = pnl.itemSync() as number;
  if (v > 0) return pnl.mul(0.05);
  if (v < 0) return pnl.pow(2);
  // The notebook's function has no branch for 0 (Python raises UnboundLocalError there).
  throw new Error('customTradingLoss: pnl is exactly 0, which the notebook does not define');
}

/** Seed 004's expected returns (x252), as the notebook printed them (yfinance AAPL, XOM, WMT). */
export const SEED004_EXPECTED_RETURNS = [0.2655, 0.198, 0.1436];
/** Seed 004's annualised covariance (x252), as printed. */
export const SEED004_COV = [
  [0.1002, 0.0256, 0.0304],
  [0.0256, 0.0507, 0.0134],
  [0.0304, 0.0134, 0.118],
];

/** Seed 004's `portfolio_risk`: `w' Σ w` as a scalar. */
export function portfolioRisk(weights: gf.Tensor, cov: gf.Tensor): gf.Tensor {
  const w2 = weights.unsqueeze(0); // (n,) -> (1, n)
  return gf.matmul(w2, gf.matmul(cov, weights.unsqueeze(1))).squeeze();
}

/** Seed 004's `portfolio_return`: `w · μ`. */
export function portfolioReturn(weights: gf.Tensor, expected: gf.Tensor): gf.Tensor {
  return gf.dot(weights, expected);
}

/** Seed 004's hand-written training loop: `w -= 0.01 * w.grad` under no_grad, `epochs` times. */
export function fitLine(w: gf.Tensor, epochs: number): void {
  const x = gf.tensor([1.0, 2.0, 3.0], { requiresGrad: true });
  const yTrue = gf.tensor([2.0, 4.0, 6.0], F32);
  const lossFn = (yPred: gf.Tensor, y: gf.Tensor) => yPred.sub(y).pow(2).mean();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const loss = lossFn(w.mul(x), yTrue);
    loss.backward();
    gf.noGrad(() => {
      w.sub_(w.grad!.mul(0.01));
      w.grad!.zero_();
    });
  }
}

// ------------------------------------------------------------------------------------------ seed 001

const seed001: Cell[] = [
  {
    seed: '001',
    id: 'In [2]',
    torch:
      "data = pd.read_csv('../data/BTCUSDT.csv', sep='|', nrows=1000, header=None, usecols=[0..5], names=[...]); print(data.head())",
    note: 'BTCUSDT.csv is not available; the ten rows the notebook printed (head and tail) stand in for it.',
    run: () => {
      const data = gf.data.readCSVText(BTCUSDT_ROWS, BTC_OPTIONS);
      const head = data.slice(0, 5);
      return {
        lines: [head.toMarkdown()],
        values: {
          rows: data.numRows(),
          firstTimestamp: data.get('timestamp', 0) as number,
          firstOpen: data.get('open', 0) as number,
          firstVolume: data.get('volume', 0) as number,
          thirdClose: data.get('close', 2) as number,
        },
      };
    },
  },
  {
    seed: '001',
    id: 'In [3]',
    torch:
      "data['timestamp'] = pd.to_datetime(data['timestamp'], unit='s'); data.set_index('timestamp', inplace=True)",
    run: () => {
      const data = gf.data.readCSVText(BTCUSDT_ROWS, {
        ...BTC_OPTIONS,
        dateColumns: { timestamp: 'unix-s' },
      });
      const first = data.get('timestamp', 0) as Date;
      const last = data.get('timestamp', data.numRows() - 1) as Date;
      return {
        lines: [
          data.toMarkdown(),
          `[${data.numRows()} rows x ${data.numCols() - 1} columns] (the notebook: 1000 rows)`,
        ],
        values: { first: first.toISOString(), last: last.toISOString() },
      };
    },
  },
  {
    seed: '001',
    id: 'In [4], In [5]',
    torch:
      'data_tensor = torch.from_numpy(data.values).to(torch.float32); data_tensor.dtype, data_tensor.shape, data_tensor.device',
    run: () => {
      const data = gf.data.readCSVText(BTCUSDT_ROWS, BTC_OPTIONS);
      const t = gf.data.tableToTensor(data, {
        columns: ['open', 'high', 'low', 'close', 'volume'],
        dtype: 'float32',
      });
      return {
        lines: [t.toString(), `[${t.dtype}, [${t.shape.join(', ')}], '${t.device}']`],
        values: { dtype: t.dtype, shape: t.shape, device: t.device, row0: vals(t.select(0, 0)) },
      };
    },
  },
  {
    seed: '001',
    id: 'In [6]',
    torch:
      'x = data_tensor[100].reshape(1, -1); w = torch.randn_like(x, requires_grad=True); b = torch.randn(1, requires_grad=True)',
    run: () => {
      const x = gf.tensor(X100).select(0, 0).reshape(1, -1);
      const w = gf.randnLike(x).requiresGrad_();
      const b = gf.randn([1], { requiresGrad: true });
      return {
        lines: [`[[${x.shape}], [${w.shape}], [${b.shape}]]`],
        values: { x: x.shape, w: w.shape, b: b.shape },
      };
    },
  },
  {
    seed: '001',
    id: 'In [7] to In [10]',
    torch: 'y = x @ w.T + b; y.backward(); w.grad, b.grad',
    note: "w and b are the notebook's printed (4-decimal) values, so y matches -2859.0393 to about 0.1.",
    run: () => {
      const x = gf.tensor(X100);
      const w = gf.tensor([[0.5556, 0.4411, -0.6088, -1.0542, -0.0617]], { requiresGrad: true });
      const b = gf.tensor([0.4099], { requiresGrad: true });
      const y = x.matmul(w.T).add(b);
      const lines = [x.toString(), w.toString(), b.toString(), y.toString()];
      y.backward();
      lines.push(show(w.grad), show(b.grad));
      return {
        lines,
        values: {
          y: y.itemSync() as number,
          gradFn: y.gradFn?.name ?? '',
          wGrad: vals(w.grad),
          bGrad: vals(b.grad),
        },
      };
    },
  },
  {
    seed: '001',
    id: 'In [11]',
    torch: 'for i in range(3): y = x @ w.T + b; y.backward(); print(w.grad, b.grad)',
    run: () => {
      const x = gf.tensor(X100);
      const w = gf.randnLike(x).requiresGrad_();
      const b = gf.randn([1], { requiresGrad: true });
      const lines: string[] = [];
      const wGrads: number[] = [];
      const bGrads: number[] = [];
      for (let i = 0; i < 3; i++) {
        x.matmul(w.T).add(b).backward();
        lines.push(`${show(w.grad)} ${show(b.grad)}`);
        wGrads.push(vals(w.grad)[0]!);
        bGrads.push(vals(b.grad)[0]!);
      }
      return { lines, values: { wGrad0: wGrads, bGrad: bGrads } };
    },
  },
  {
    seed: '001',
    id: 'In [12]',
    torch: 'for i in range(3): ...; y.backward(); print(w.grad, b.grad); w.grad.zero_(); b.grad.zero_()',
    run: () => {
      const x = gf.tensor(X100);
      const w = gf.randnLike(x).requiresGrad_();
      const b = gf.randn([1], { requiresGrad: true });
      const lines: string[] = [];
      const wGrads: number[] = [];
      const bGrads: number[] = [];
      for (let i = 0; i < 3; i++) {
        x.matmul(w.T).add(b).backward();
        lines.push(`${show(w.grad)} ${show(b.grad)}`);
        wGrads.push(vals(w.grad)[0]!);
        bGrads.push(vals(b.grad)[0]!);
        w.grad!.zero_();
        b.grad!.zero_();
      }
      return { lines, values: { wGrad0: wGrads, bGrad: bGrads } };
    },
  },
  {
    seed: '001',
    id: 'In [13]',
    torch:
      "config = yaml.safe_load(open('../configs/configs.yaml')); data = pd.read_csv(file_path, sep=sep, nrows=nrows, ...)",
    note: 'The YAML text is the dictionary the notebook printed; the rows are the inline stand-in.',
    run: () => {
      const yaml = [
        'data:',
        '  file_path: ../data/BTCUSDT.csv',
        "  separator: '|'",
        '  train_rows: 1000',
        '  features: [timestamp, open, high, low, close, volume]',
      ].join('\n');
      const config = gf.data.parseConfig(yaml, gf.data.dataConfigSchema);
      const data = gf.data.readCSVText(BTCUSDT_ROWS, gf.data.dataConfigToCSVOptions(config));
      return {
        lines: [
          'Loaded Config Dictionary:',
          JSON.stringify(config),
          '-'.repeat(30),
          data.slice(0, 5).toMarkdown(),
        ],
        values: {
          separator: config.data.separator,
          trainRows: config.data.train_rows,
          features: config.data.features.join(','),
          firstVolume: data.get('volume', 0) as number,
        },
      };
    },
  },
  {
    seed: '001',
    id: 'In [14], In [15]',
    torch:
      'pnl1 = torch.tensor([4.0], requires_grad=True); y1 = custom_trading_loss(pnl1); y1.backward(); pnl1.grad',
    run: () => {
      const pnl1 = gf.tensor([4.0], { requiresGrad: true });
      customTradingLoss(pnl1).backward();
      return { lines: [show(pnl1.grad)], values: { grad: vals(pnl1.grad) } };
    },
  },
  {
    seed: '001',
    id: 'In [16], In [17]',
    torch:
      'pnl2 = torch.tensor([-3.0], requires_grad=True); y2 = custom_trading_loss(pnl2); y2.backward(); pnl2.grad; y2.backward()',
    run: () => {
      const pnl2 = gf.tensor([-3.0], { requiresGrad: true });
      const y2 = customTradingLoss(pnl2);
      y2.backward();
      const lines = [show(pnl2.grad)];
      let error = '';
      try {
        y2.backward();
      } catch (e) {
        error = (e as Error).message;
        lines.push(`${(e as Error).name}: ${error}`);
      }
      return { lines, values: { grad: vals(pnl2.grad), error } };
    },
  },
  {
    seed: '001',
    id: 'In [18], In [19]',
    torch: 'y2.backward(retain_graph=True); pnl2.grad; y2.backward(); pnl2.grad',
    run: () => {
      const pnl2 = gf.tensor([-3.0], { requiresGrad: true });
      const y2 = customTradingLoss(pnl2);
      y2.backward(undefined, { retainGraph: true });
      const first = vals(pnl2.grad);
      const lines = [show(pnl2.grad)];
      y2.backward();
      lines.push(show(pnl2.grad));
      return { lines, values: { first, second: vals(pnl2.grad) } };
    },
  },
];

// ------------------------------------------------------------------------------------------ seed 002

function seed002Net(hidden: number): gf.nn.Sequential {
  return new gf.nn.Sequential(
    new gf.nn.Linear(1, hidden),
    new gf.nn.Sigmoid(),
    new gf.nn.Linear(hidden, 1, { bias: false }),
  );
}

/** Seed 002's `my_loss`: the mean squared error written by hand. */
export function myLoss(output: gf.Tensor, target: gf.Tensor): gf.Tensor {
  return output.sub(target).pow(2).mean();
}

const seed002: Cell[] = [
  {
    seed: '002',
    id: 'In [22] to In [27]',
    torch:
      'N = nn.Sequential(nn.Linear(1, 10), nn.Sigmoid(), nn.Linear(10,1, bias=False)); N; N[0].weight; N[0].bias; N[2].weight',
    note: 'Weights are random (the notebook was unseeded); they are checked against the init bounds 1/sqrt(fan_in).',
    run: () => {
      const N = seed002Net(10);
      const first = N.at(0) as gf.nn.Linear;
      const second = N.at(2) as gf.nn.Linear;
      const w1 = vals(first.weight);
      const b1 = vals(first.bias);
      const w2 = vals(second.weight);
      return {
        lines: [N.toString(), first.weight.toString(), String(first.bias), second.weight.toString()],
        values: {
          repr: N.toString(),
          w1Shape: first.weight.shape,
          b1Shape: first.bias?.shape ?? [],
          w2Shape: second.weight.shape,
          secondHasBias: second.bias !== undefined,
          w1MaxAbs: Math.max(...w1.map(Math.abs)),
          b1MaxAbs: Math.max(...b1.map(Math.abs)),
          w2MaxAbs: Math.max(...w2.map(Math.abs)),
          requiresGrad: first.weight.requiresGrad,
        },
      };
    },
  },
  {
    seed: '002',
    id: 'In [34] to In [37]',
    torch: 'x = torch.tensor(2.0, requires_grad = True); z = x ** 3; z.backward(); x; x.grad',
    run: () => {
      const x = gf.tensor(2.0, { requiresGrad: true });
      const z = x.pow(3);
      z.backward();
      return { lines: [x.toString(), show(x.grad)], values: { x: x.toString(), grad: vals(x.grad) } };
    },
  },
  {
    seed: '002',
    id: 'In [40]',
    torch:
      'x = torch.tensor(10.0); w = torch.tensor(3.0, requires_grad=True); b = ...(2.0); y = w*x + b; y.backward(); print(w.grad, b.grad, x.grad)',
    run: () => {
      const x = gf.tensor(10.0, F32);
      const w = gf.tensor(3.0, { requiresGrad: true });
      const b = gf.tensor(2.0, { requiresGrad: true });
      const y = w.mul(x).add(b);
      y.backward();
      return {
        lines: [show(w.grad), show(b.grad), show(x.grad)],
        values: {
          y: y.itemSync() as number,
          wGrad: vals(w.grad),
          bGrad: vals(b.grad),
          xGrad: x.grad === undefined ? null : 0,
        },
      };
    },
  },
  {
    seed: '002',
    id: 'In [41]',
    torch: 'def my_loss(output, target): return torch.mean((output - target)**2)',
    note: 'The notebook only defines it; here it is also checked against nn.MSELoss.',
    run: () => {
      const out = gf.tensor([1.0, 2.0, 3.0]);
      const target = gf.tensor([1.5, 2.0, 1.0]);
      const mine = myLoss(out, target).itemSync() as number;
      const builtin = new gf.nn.MSELoss().forward(out, target).itemSync() as number;
      return { lines: [`my_loss = ${mine}, MSELoss = ${builtin}`], values: { mine, builtin } };
    },
  },
  {
    seed: '002',
    id: 'In [10] to In [12] (second run)',
    torch:
      'mae_loss = torch.nn.L1Loss(); output = mae_loss(input_1, target); output.backward(); mae_loss; input_1.grad',
    note: "input_1 and target are the notebook's printed values; PyTorch names the node L1LossBackward, gradfolio MeanBackward0 (L1 is composed of abs and mean).",
    run: () => {
      const maeLoss = new gf.nn.L1Loss();
      const input1 = gf.tensor(
        [
          [-0.3416, 1.9846, -0.048],
          [-0.5596, -0.3991, 0.0959],
        ],
        { requiresGrad: true },
      );
      const target = gf.tensor([
        [-0.4779, 2.3243, 0.775],
        [-2.8559, 0.8496, -1.2165],
      ]);
      const output = maeLoss.forward(input1, target);
      output.backward();
      return {
        lines: [
          `input_1 = ${input1}`,
          `target = ${target}`,
          `output= ${output}`,
          maeLoss.toString(),
          show(input1.grad),
        ],
        values: { output: output.itemSync() as number, repr: maeLoss.toString(), grad: vals(input1.grad) },
      };
    },
  },
  {
    seed: '002',
    id: 'In [13] to In [17]',
    torch:
      'x = torch.Tensor(np.linspace(0,2,5)[:,None]); x.requires_grad = True; y = x**3; torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y))',
    run: () => {
      const x = gf.linspace(0, 2, 5).unsqueeze(1);
      x.requiresGrad = true;
      const y = x.pow(3);
      let scalarError = '';
      try {
        gf.grad(y, x); // In [15]: without grad_outputs a non-scalar output is an error
      } catch (e) {
        scalarError = (e as Error).message;
      }
      const yDerX = gf.grad(y, x, { gradOutputs: gf.onesLike(y) });
      return {
        lines: [
          x.toString(),
          y.toString(),
          `(${show(yDerX[0])},)`,
          show(yDerX[0]),
          `without grad_outputs: ${scalarError}`,
        ],
        values: { x: vals(x), y: vals(y), dydx: vals(yDerX[0]), scalarError, tupleLength: yDerX.length },
      };
    },
  },
  {
    seed: '002',
    id: 'In [18] to In [21]',
    torch:
      'N = nn.Sequential(nn.Linear(1, 5), nn.Sigmoid(), nn.Linear(5,1, bias=False)); Psi_t = lambda x: 3.2 + x * N(x); Psi_t_x = torch.autograd.grad(outputs, input_tensor, grad_outputs=torch.ones_like(outputs), create_graph=True)[0]',
    note: "The notebook prints nothing here; the checks are the product rule (Psi_t'(0) = N(0)) and that create_graph lets the derivative flow into N's weights.",
    run: () => {
      const input = gf.linspace(0, 2, 100).unsqueeze(1).requiresGrad_();
      const N = seed002Net(5);
      const psiT = (x: gf.Tensor) => x.mul(N.forward(x)).add(3.2);
      const outputs = psiT(input);
      const output = outputs.mean(); // scalar, so output.backward() would work too
      const psiTx = gf.grad(outputs, input, { gradOutputs: gf.onesLike(outputs), createGraph: true })[0]!;
      const n0 = N.forward(gf.zeros([1, 1])).itemSync() as number;
      // A loss built from the derivative (as in a physics-informed net): its gradient reaches N's weights.
      const odeLoss = psiTx.sub(outputs).pow(2).mean();
      odeLoss.backward();
      const firstWeight = (N.at(0) as gf.nn.Linear).weight;
      return {
        lines: [
          `outputs ${outputs.shape}, output ${output}`,
          `Psi_t_x ${psiTx.shape}, gradFn=${psiTx.gradFn?.name}, Psi_t_x[0] = ${vals(psiTx)[0]} vs N(0) = ${n0}`,
          `d(mean((Psi_t_x - Psi_t)^2))/dN[0].weight = ${show(firstWeight.grad)}`,
        ],
        values: {
          shape: psiTx.shape,
          derivAt0: vals(psiTx)[0]!,
          n0,
          hasGraph: psiTx.gradFn !== undefined,
          weightGradFinite: vals(firstWeight.grad).every(Number.isFinite) && firstWeight.grad !== undefined,
        },
      };
    },
  },
  {
    seed: '002',
    id: 'In [22], In [23] (Method 1)',
    torch:
      'for input, target in dataset: optimizer.zero_grad(); output = model(input); loss = loss_fn(output, target); loss.backward(); optimizer.step()',
    note: 'The notebook raises NameError (no dataset); here the Sequential is fitted to y = x^3 on [0, 2] with Adam.',
    run: () => {
      gf.manualSeed(2);
      const x = gf.linspace(0, 2, 64).unsqueeze(1);
      const y = x.pow(3);
      const model = seed002Net(10);
      const optimizer = new gf.optim.Adam(model.parameters(), { lr: 0.05 });
      const lossFn = new gf.nn.MSELoss();
      const loader = new gf.data.DataLoader(new gf.data.TensorDataset(x, y), {
        batchSize: 16,
        shuffle: true,
        generator: new gf.Generator(2),
      });
      const full = () => gf.noGrad(() => lossFn.forward(model.forward(x), y).itemSync() as number);
      const before = full();
      for (let epoch = 0; epoch < 150; epoch++) {
        for (const [input, target] of loader) {
          optimizer.zeroGrad();
          const loss = lossFn.forward(model.forward(input), target);
          loss.backward();
          optimizer.step();
        }
      }
      const after = full();
      return {
        lines: [`MSE before ${before.toFixed(4)}, after 150 epochs ${after.toFixed(4)}`],
        values: { before, after },
      };
    },
  },
  {
    seed: '002',
    id: 'In [None] (Method 2)',
    torch:
      'optimizer = torch.optim.LBFGS(N.parameters()); def closure(): optimizer.zero_grad(); loss = loss_fn(output, target); loss.backward(); return loss; optimizer.step(closure)',
    note: 'LBFGS needs the closure because it re-evaluates the loss during its line search; gradfolio awaits the step.',
    run: async () => {
      gf.manualSeed(3);
      const x = gf.linspace(0, 2, 64).unsqueeze(1);
      const y = x.pow(3);
      const N = seed002Net(10);
      const optimizer = new gf.optim.LBFGS(N.parameters());
      const lossFn = new gf.nn.MSELoss();
      const closure = () => {
        optimizer.zeroGrad();
        const loss = lossFn.forward(N.forward(x), y);
        loss.backward();
        return loss;
      };
      const before = gf.noGrad(() => lossFn.forward(N.forward(x), y).itemSync() as number);
      for (let i = 0; i < 10; i++) await optimizer.step(closure);
      const after = gf.noGrad(() => lossFn.forward(N.forward(x), y).itemSync() as number);
      return {
        lines: [`MSE before ${before.toFixed(4)}, after 10 LBFGS steps ${after.toFixed(6)}`],
        values: { before, after },
      };
    },
  },
];

// ------------------------------------------------------------------------------------------ seed 004

const seed004: Cell[] = [
  {
    seed: '004',
    id: 'In [140] to In [143]',
    torch: 'x = torch.tensor(2.0, requires_grad = True); y = x**2 + 3*x + 5; y.backward(); x.grad',
    run: () => {
      const x = gf.tensor(2.0, { requiresGrad: true });
      const y = x.pow(2).add(x.mul(3)).add(5);
      y.backward();
      return { lines: [x.toString(), show(x.grad)], values: { x: x.toString(), grad: vals(x.grad) } };
    },
  },
  {
    seed: '004',
    id: 'In [144] to In [146]',
    torch:
      'x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True); y = 2 * x**2 + 3 * x; y.sum().backward(); x.grad',
    run: () => {
      const x = gf.tensor([1.0, 2.0, 3.0], { requiresGrad: true });
      x.pow(2).mul(2).add(x.mul(3)).sum().backward();
      return { lines: [show(x.grad)], values: { grad: vals(x.grad) } };
    },
  },
  {
    seed: '004',
    id: 'In [147], In [148]',
    torch: 'with torch.no_grad(): y = x ** 2 + 3 * x; print("Value of y (no_grad):", y); x.grad',
    run: () => {
      const x = gf.tensor(5.0, { requiresGrad: true });
      const y = gf.noGrad(() => x.pow(2).add(x.mul(3)));
      return {
        lines: [`Value of y (no_grad): ${y}`, show(x.grad)],
        values: {
          y: y.itemSync() as number,
          requiresGrad: y.requiresGrad,
          xGrad: x.grad === undefined ? null : 0,
        },
      };
    },
  },
  {
    seed: '004',
    id: 'In [149] to In [151]',
    torch: 'x = torch.tensor(5.0, requires_grad=True); y = x ** 2; z = y.detach(); z.requires_grad',
    run: () => {
      const x = gf.tensor(5.0, { requiresGrad: true });
      const y = x.pow(2);
      const z = y.detach();
      return {
        lines: [String(z.requiresGrad)],
        values: { requiresGrad: z.requiresGrad, yRequiresGrad: y.requiresGrad },
      };
    },
  },
  {
    seed: '004',
    id: 'In [152] to In [157]',
    torch:
      'y1 = x ** 2; y1.backward(); print(x.grad)  (x3 more runs); x.grad.zero_(); y2 = x ** 2; y2.backward(); print(x.grad)',
    note: 'The notebook prints 16 for the "second" gradient because In [156] is the third re-run of the cell (In [154] to [156] are missing): four backward calls of 2x = 4 accumulate to 16.',
    run: () => {
      const x = gf.tensor(2.0, { requiresGrad: true });
      x.pow(2).backward();
      const first = vals(x.grad)[0]!;
      const lines = [`First Gradient: ${show(x.grad)}`];
      const reruns: number[] = [];
      for (let run = 0; run < 3; run++) {
        x.pow(2).backward();
        reruns.push(vals(x.grad)[0]!);
      }
      lines.push(`Second Gradient: ${show(x.grad)}  (after re-runs: ${reruns.join(', ')})`);
      x.grad!.zero_();
      x.pow(2).backward();
      lines.push(`Second Gradient: ${show(x.grad)}`);
      return { lines, values: { first, reruns, afterZero: vals(x.grad)[0]! } };
    },
  },
  {
    seed: '004',
    id: 'In [158], In [159]',
    torch: 'x = torch.tensor(1.0, requires_grad=True); y = x ** 2; z = 3 * y + 2; z.backward(); x.grad',
    run: () => {
      const x = gf.tensor(1.0, { requiresGrad: true });
      const y = x.pow(2);
      const z = y.mul(3).add(2);
      z.backward();
      return { lines: [show(x.grad)], values: { grad: vals(x.grad) } };
    },
  },
  {
    seed: '004',
    id: 'In [160] to In [162]',
    torch:
      'x = torch.tensor([1.0, 2.0], requires_grad=True); y = x * x; torch.autograd.grad(outputs=y, inputs=x, grad_outputs=torch.tensor([1.0, 1.0]))',
    run: () => {
      const x = gf.tensor([1.0, 2.0], { requiresGrad: true });
      const y = x.mul(x);
      const gradients = gf.grad(y, x, { gradOutputs: gf.tensor([1.0, 1.0], F32) });
      return { lines: [`(${show(gradients[0])},)`], values: { grad: vals(gradients[0]) } };
    },
  },
  {
    seed: '004',
    id: 'In [163] to In [166]',
    torch:
      'for epoch in range(100): loss = ((w * x - y_true) ** 2).mean(); loss.backward(); with torch.no_grad(): w -= 0.01 * w.grad; w.grad.zero_()',
    note: 'The notebook prints 1.9999994039535522, which is w after 200 epochs: the training cell ran twice (In [164] is missing, In [165] is its second run). One run of 100 epochs gives 1.9999443 (printed as 1.9999443292617798).',
    run: () => {
      const w = gf.tensor(1.0, { requiresGrad: true });
      fitLine(w, 100);
      const after100 = w.itemSync() as number;
      fitLine(w, 100);
      const after200 = w.itemSync() as number;
      return {
        lines: [`after 100 epochs: ${after100}`, `after 200 epochs: ${after200}`],
        values: { after100, after200 },
      };
    },
  },
  {
    seed: '004',
    id: 'In [167] to In [172]',
    torch:
      "data = yf.download(['AAPL','XOM','WMT'], start='2020-01-01')['Close']; ret = data.pct_change(); expected_returns = ret.mean()*252; cov_matrix = ret.cov()*252",
    note: 'yfinance needs the internet; the cells below start from the printed expected_returns and cov_matrix (4 decimals). gf.finance.simpleReturns / covariance compute them from prices.',
    run: () => {
      const expected = gf.tensor(SEED004_EXPECTED_RETURNS);
      const cov = gf.tensor(SEED004_COV);
      return {
        lines: [expected.toString(), cov.toString()],
        values: { expected: vals(expected), cov: vals(cov) },
      };
    },
  },
  {
    seed: '004',
    id: 'In [173] to In [178]',
    torch:
      'optimizer = optim.SGD([weights], lr=0.01); for epoch in range(500): ...; loss = portfolio_risk(weights, cov_matrix); loss.backward(); optimizer.step(); weights[:] = torch.clamp(weights, min=0); weights /= weights.sum()',
    note: "Starting from the printed (rounded) inputs, the trajectory follows the notebook's to about 1e-4. The SGD + renormalise heuristic moves slowly and does not reach the true minimum-variance portfolio, which the QP solver gives.",
    run: async () => {
      const cov = gf.tensor(SEED004_COV);
      const expected = gf.tensor(SEED004_EXPECTED_RETURNS);
      const weights = gf.tensor([0.33, 0.33, 0.34], { requiresGrad: true });
      const optimizer = new gf.optim.SGD([weights], { lr: 0.01 });
      const lines: string[] = [];
      const risks: number[] = [];
      const epoch0: number[] = [];
      for (let epoch = 0; epoch < 500; epoch++) {
        optimizer.zeroGrad();
        const loss = portfolioRisk(weights, cov);
        loss.backward();
        optimizer.step();
        gf.noGrad(() => {
          weights.copy_(gf.clamp(weights, { min: 0 }));
          weights.div_(weights.sum());
        });
        if (epoch % 50 === 0) {
          const risk = loss.itemSync() as number;
          risks.push(risk);
          if (epoch === 0) epoch0.push(...vals(weights));
          lines.push(`Epoch ${epoch}, Risk: ${risk}, Weights: ${JSON.stringify(vals(weights))}`);
        }
      }
      const final = vals(weights);
      const ret = portfolioReturn(weights, expected).itemSync() as number;
      const risk = portfolioRisk(weights, cov).itemSync() as number;
      const minVar = await gf.finance.minimumVariance(cov);
      const minVarRisk = portfolioRisk(minVar, cov).itemSync() as number;
      lines.push(`weights.tolist() ${JSON.stringify(final)}`, `expected return ${ret}`, `risk ${risk}`);
      lines.push(`true long-only minimum variance: ${JSON.stringify(vals(minVar))}, risk ${minVarRisk}`);
      return { lines, values: { risks, epoch0, final, ret, risk, minVar: vals(minVar), minVarRisk } };
    },
  },
];

/** All cells, in notebook order within each seed. */
export const cells: readonly Cell[] = [...seed001, ...seed002, ...seed004];
