/**
 * The optimizer cells of the seeds, with gradfolio's optimizers in place of torch.optim.
 * Seed 004 In [173]-[178]: minimise w' Σ w with `optim.SGD([weights], lr=0.01)` and long-only,
 * sum-to-one constraints applied under no_grad. The reference trajectory is torch 1.13 from the same
 * (rounded, as printed) inputs: `/usr/bin/python3 packages/autograd/test/seed004_portfolio.py` (it uses torch.optim.SGD).
 */
import { noGrad } from '@gradfolio/autograd';
import { type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { SGD } from '../src/index.js';

const COV = [
  [0.1002, 0.0256, 0.0304],
  [0.0256, 0.0507, 0.0134],
  [0.0304, 0.0134, 0.118],
];
const EXPECTED_RETURNS = [0.2655, 0.198, 0.1436];

// Printed by seed004_portfolio.py (torch 1.13): [epoch, risk, weights] every 50 epochs.
const TORCH_LOG: Array<[number, number, number[]]> = [
  [0, 0.0454782173037529, [0.32986125349998474, 0.3303047716617584, 0.33983391523361206]],
  [50, 0.04475110024213791, [0.3225386440753937, 0.3461902439594269, 0.33127111196517944]],
  [100, 0.04401177167892456, [0.3144204020500183, 0.36338990926742554, 0.32218968868255615]],
  [150, 0.043268460780382156, [0.3054497241973877, 0.3819708228111267, 0.3125794529914856]],
  [200, 0.04253114387392998, [0.2955707311630249, 0.4019951820373535, 0.30243411660194397]],
  [250, 0.041811712086200714, [0.28472936153411865, 0.4235183298587799, 0.29175227880477905]],
  [300, 0.04112401604652405, [0.2728751599788666, 0.44658705592155457, 0.28053781390190125]],
  [350, 0.040483877062797546, [0.2599623203277588, 0.471236914396286, 0.2688007652759552]],
  [400, 0.03990901634097099, [0.24595198035240173, 0.4974900484085083, 0.2565579414367676]],
  [450, 0.039418891072273254, [0.23081271350383759, 0.5253536701202393, 0.24383366107940674]],
];
const TORCH_FINAL = {
  weights: [0.21486037969589233, 0.5542118549346924, 0.2309277504682541],
  return: 0.19994060695171356,
  risk: 0.0390344075858593,
};

function portfolioRisk(weights: Tensor, covMatrix: Tensor): Tensor {
  return weights
    .unsqueeze(0)
    .matmul(covMatrix.matmul(weights.unsqueeze(1)))
    .squeeze();
}

describe('seed 004: portfolio optimisation with SGD', () => {
  it('In [173]-[178]: SGD(lr=0.01) with the constraint step reproduces PyTorch every 50 epochs', async () => {
    const covMatrix = tensor(COV, { dtype: 'float32' });
    const weights = tensor([0.33, 0.33, 0.34], { requiresGrad: true });
    const optimizer = new SGD([weights], { lr: 0.01 });
    const log: Array<[number, number, number[]]> = [];
    for (let epoch = 0; epoch < 500; epoch++) {
      optimizer.zeroGrad();
      const loss = portfolioRisk(weights, covMatrix);
      loss.backward();
      optimizer.step();
      noGrad(() => {
        weights.indexPut_([':'], weights.clamp({ min: 0 }));
        weights.div_(weights.sum());
      });
      if (epoch % 50 === 0)
        log.push([epoch, (await loss.item()) as number, weights.toArraySync() as number[]]);
    }
    log.forEach(([epoch, risk, w], i) => {
      const [e, r, tw] = TORCH_LOG[i]!;
      expect(epoch).toBe(e);
      expect(Math.abs(risk - r)).toBeLessThanOrEqual(1e-7);
      w.forEach((v, k) => {
        expect(Math.abs(v - tw[k]!)).toBeLessThanOrEqual(2e-6);
      });
    });
    const w = weights.toArraySync() as number[];
    w.forEach((v, k) => {
      expect(Math.abs(v - TORCH_FINAL.weights[k]!)).toBeLessThanOrEqual(2e-6);
    });
    const ret = (await weights.dot(tensor(EXPECTED_RETURNS, { dtype: 'float32' })).item()) as number;
    expect(Math.abs(ret - TORCH_FINAL.return)).toBeLessThanOrEqual(1e-6);
    expect(
      Math.abs(((await portfolioRisk(weights, covMatrix).item()) as number) - TORCH_FINAL.risk),
    ).toBeLessThanOrEqual(1e-7);
  });
});
