import '@gradfolio/autograd';
import { DataLoader, TensorDataset } from '@gradfolio/data';
import { Linear, LSTM, mseLoss } from '@gradfolio/nn';
import { Adam } from '@gradfolio/optim';
import * as gf from '@gradfolio/tensor';

const lstm = new LSTM(1, 4, { batchFirst: true });
const fc = new Linear(4, 1);
const loader = new DataLoader(new TensorDataset(gf.randn([6183, 7, 1]), gf.randn([6183, 1])), {
  batchSize: 16,
  shuffle: true,
});
const opt = new Adam([...lstm.parameters(), ...fc.parameters()], { lr: 1e-3 });
const epoch = () => {
  let total = 0;
  for (const [xb, yb] of loader) {
    opt.zeroGrad();
    const [, [hN]] = lstm.forward(xb!);
    const loss = mseLoss(fc.forward(hN.select(0, -1)), yb!);
    loss.backward();
    opt.step();
    total += loss.itemSync() as number;
  }
  return total;
};
for (let i = 0; i < 5; i++) epoch();
const t = performance.now();
for (let i = 0; i < 10; i++) epoch();
console.log('epoch ms', (performance.now() - t) / 10);
