import { it } from 'vitest';
import * as T from '../src/index.js';
it('perf', () => {
  const a = T.tensor(new Float32Array([1, 2, 3, 4]));
  const b = T.tensor(new Float32Array([0.5, 0.5, 0.5, 0.5]));
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    let s = a;
    for (let i = 0; i < 1000; i++) s = s.add(b);
    console.log('1000 adds ms', (performance.now() - t0).toFixed(3));
  }
  const x = T.randn([1 << 20]);
  const y = T.randn([1 << 20]);
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    x.mul(0.5).add(y).tanh().sub(0.25).abs().add(1).sqrt().mul(y).neg().sigmoid().sum().itemSync();
    console.log('chain ms', (performance.now() - t0).toFixed(3));
  }
  const m = T.randn([256, 1024]);
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    m.sum(0); 
    const t1 = performance.now();
    m.sum(1);
    console.log('sum0 ms', (t1 - t0).toFixed(3), 'sum1', (performance.now() - t1).toFixed(3));
  }
});
