/**
 * The autograd tour: runs every autograd cell of seeds 001, 002 and 004 with gradfolio and prints each
 * cell's PyTorch code above gradfolio's output. Run with `pnpm start`.
 */
import { type Cell, cells } from './cells.js';

const TITLES: Record<Cell['seed'], string> = {
  '001': 'Seed 001: BTCUSDT tensors, x @ w.T + b, gradient accumulation, retain_graph',
  '002': 'Seed 002: nn.Sequential, requires_grad, L1Loss, torch.autograd.grad, optimizers',
  '004': 'Seed 004: autograd basics, a training loop by hand, SGD minimum variance',
};

let seed: Cell['seed'] | undefined;
for (const cell of cells) {
  if (cell.seed !== seed) {
    seed = cell.seed;
    console.log(`\n${'='.repeat(100)}\n${TITLES[seed]}\n${'='.repeat(100)}`);
  }
  console.log(`\n--- ${cell.id}\n# PyTorch: ${cell.torch}`);
  if (cell.note !== undefined) console.log(`# Note: ${cell.note}`);
  const result = await cell.run();
  for (const line of result.lines) console.log(line);
}
