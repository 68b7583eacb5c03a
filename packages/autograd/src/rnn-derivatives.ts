import { cat, lstmLayerBackward, lstmLayerSteps, stack, sub, type Tensor, zeros } from '@gradfolio/tensor';
import { isGradEnabled } from './mode.js';
import type { Derivative, DerivativeContext } from './node.js';

/**
 * The gradients of `lstmLayer` written with ordinary ops, recomputing the gates from the saved inputs.
 * Used when the backward pass is itself recorded (`createGraph`: the fused kernel's workspace is not
 * differentiable) or the backend has no fused backward kernel.
 */
function compositeBackward(
  gOut: Tensor,
  gcN: Tensor,
  x: Tensor,
  h0: Tensor,
  c0: Tensor,
  wih: Tensor,
  whh: Tensor,
  bih: Tensor | undefined,
  bhh: Tensor | undefined,
  reverse: boolean,
): Array<Tensor | undefined> {
  const T = x.shape[0] as number;
  const B = x.shape[1] as number;
  const I = x.shape[2] as number;
  const steps = lstmLayerSteps(x, h0, c0, { wih, whh, bih, bhh }, { reverse });
  let dh = zeros(h0.shape as number[], { dtype: h0.dtype, device: h0.device });
  let dc = gcN;
  let dW: Tensor | undefined;
  const dz = new Array<Tensor>(T);
  for (let k = T - 1; k >= 0; k--) {
    const { t, i, f, g, o, cPrev, c: ct, hPrev } = steps[k]!;
    dh = dh.add(gOut.select(0, t));
    const tc = ct.tanh();
    dc = dc.add(dh.mul(o).mul(sub(1, tc.mul(tc))));
    const di = dc.mul(g).mul(i.mul(sub(1, i)));
    const df = dc.mul(cPrev).mul(f.mul(sub(1, f)));
    const dg = dc.mul(i).mul(sub(1, g.mul(g)));
    const dO = dh.mul(tc).mul(o.mul(sub(1, o)));
    const d = cat([di, df, dg, dO], -1);
    dz[t] = d;
    const w = d.T.matmul(hPrev);
    dW = dW === undefined ? w : dW.add(w);
    dh = d.matmul(whh);
    dc = dc.mul(f);
  }
  const dXp = stack(dz, 0);
  const G = whh.shape[0] as number;
  const dFlat = dXp.reshape(T * B, G);
  const db = bhh === undefined ? undefined : dFlat.sum(0);
  return [
    dFlat.matmul(wih).reshape(T, B, I),
    dh,
    dc,
    dFlat.T.matmul(x.reshape(T * B, I)),
    dW ?? zeros([G, whh.shape[1] as number], { dtype: whh.dtype, device: whh.device }),
    db,
    db,
  ];
}

/** The derivative of the fused `lstmLayer` op (one node for a whole sequence of one direction). */
export const lstmLayerDerivative: Derivative = {
  name: 'LstmLayerBackward0',
  save: 'both',
  backward(c: DerivativeContext) {
    const hasBias = c.attrs.hasBias === true;
    const reverse = c.attrs.reverse === true;
    const gOut = c.grads[0]!;
    const gcN = c.grads[1]!;
    const x = c.input(0);
    const h0 = c.input(1);
    const c0 = c.input(2);
    const wih = c.input(3);
    const whh = c.input(4);
    let grads: Array<Tensor | undefined>;
    if (!isGradEnabled() && x.backend.kernels.has('lstmLayerBackward')) {
      const [dx, dh0, dc0, dWih, dWhh, db] = lstmLayerBackward(
        gOut,
        gcN,
        x,
        h0,
        c0,
        wih,
        whh,
        c.attrs.gates as Tensor,
        c.attrs.cells as Tensor,
        c.output(0),
        { reverse, hasBias },
      );
      grads = [dx, dh0, dc0, dWih, dWhh, db, db];
    } else {
      const bih = hasBias ? c.input(5) : undefined;
      const bhh = hasBias ? c.input(6) : undefined;
      grads = compositeBackward(gOut, gcN, x, h0, c0, wih, whh, bih, bhh, reverse);
    }
    return grads.slice(0, hasBias ? 7 : 5).map((g, k) => (c.needs[k] ? g : undefined));
  },
};
