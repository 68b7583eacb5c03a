import '@gradfolio/autograd';
import { Linear, LSTM } from '@gradfolio/nn';
import { Adam } from '@gradfolio/optim';
import * as gf from '@gradfolio/tensor';

const lstm = new LSTM(8, 64, { batchFirst: true });
const fc = new Linear(64, 4);
const opt = new Adam([...lstm.parameters(), ...fc.parameters()], { lr: 1e-3 });
const x = gf.randn([64, 50, 8]);
const r = gf.randn([64, 4]).mul(0.01);
const f = () => {
  const [, [hN]] = lstm.forward(x);
  const w = fc.forward(hN.select(0, -1)).softmax(1);
  const p = w.mul(r).sum(1);
  return p.mean().div(p.std()).neg();
};
const step = () => {
  opt.zeroGrad();
  f().backward();
  opt.step();
};
for (let i = 0; i < 10; i++) step();
let t = performance.now();
for (let i = 0; i < 30; i++) f();
console.log('fwd', (performance.now() - t) / 30);
t = performance.now();
for (let i = 0; i < 30; i++) step();
console.log('step', (performance.now() - t) / 30);
