// Assembles the fused LSTM's wasm SIMD module (src/cpu/lstm/lstm.wat, written by hand except for the
// register-blocked product `mm`, generated below and spliced in at its `;; @mm` line) with `wabt` (a
// devDependency; only this script needs it) and writes the bytes, base64, to
// src/cpu/lstm/wasm-module.generated.ts. Both files are committed: neither the build nor the tests need wabt.
//
//   node packages/tensor/scripts/build-lstm-wasm.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cpu', 'lstm');
/**
 * `mm(a, w, out, rows, inner, cols)`: out[rows, cols] = a[rows, inner] @ w[inner, cols] (cols a multiple
 * of 4, out overwritten) in blocks of 4 rows x `nv` vectors of 4 columns, accumulators in registers (8 +
 * 2 loads + 1 splat of x64's 16 xmm registers for nv = 2); a 4-column tail block, and $mm1 for the rows
 * that do not fill a block. `atb(a, w, out, rows, inner, cols)`: the same with `a` stored transposed,
 * `[inner, rows]` (out = a^T @ w: the weight gradients), remainder rows by $atb1.
 */
function mmText(name, transposedA) {
  const L = [];
  const e = (x) => L.push(`  ${x}`);
  e(
    `(func (export "${name}") (param $a i32) (param $w i32) (param $out i32) (param $rows i32) (param $inner i32)`,
  );
  e('      (param $cols i32)');
  e(
    '  (local $r i32) (local $j i32) (local $p i32) (local $ab i32) (local $cb i32) (local $pa i32) (local $wp i32)',
  );
  e('  (local $po i32) (local $s v128) (local $w0 v128) (local $w1 v128)');
  for (let i = 0; i < 4; i++) e(`  (local $c${i}0 v128) (local $c${i}1 v128)`);
  // Byte steps through A: to the next row of the block and to the next p. mm reads a[rows, inner]; atb
  // reads a[inner, rows] (A transposed), so the same loops compute a^T @ w.
  e(`  (local.set $ab (i32.shl (local.get ${transposedA ? '$rows' : '$inner'}) (i32.const 2)))`);
  const rowStep = transposedA ? '(i32.const 4)' : '(local.get $ab)';
  const pStep = transposedA ? '(local.get $ab)' : '(i32.const 4)';
  e('  (local.set $cb (i32.shl (local.get $cols) (i32.const 2)))');
  e('  (block $rdone (loop $rl');
  e('    (br_if $rdone (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))');
  e('    (local.set $j (i32.const 0))');
  for (const nv of [2, 1]) {
    const width = nv * 4;
    e(`    (block $j${nv}done (loop $j${nv}l`);
    e(`      (br_if $j${nv}done (i32.gt_u (i32.add (local.get $j) (i32.const ${width})) (local.get $cols)))`);
    for (let i = 0; i < 4; i++)
      for (let v = 0; v < nv; v++) e(`      (local.set $c${i}${v} (v128.const i32x4 0 0 0 0))`);
    e(`      (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $r) ${rowStep})))`);
    e('      (local.set $wp (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2))))');
    e('      (local.set $p (i32.const 0))');
    e(`      (block $p${nv}done (loop $p${nv}l`);
    e(`        (br_if $p${nv}done (i32.ge_u (local.get $p) (local.get $inner)))`);
    for (let v = 0; v < nv; v++) e(`        (local.set $w${v} (v128.load offset=${16 * v} (local.get $wp)))`);
    for (let i = 0; i < 4; i++) {
      const addr =
        i === 0 ? '(local.get $pa)' : `(i32.add (local.get $pa) (i32.mul ${rowStep} (i32.const ${i})))`;
      e(`        (local.set $s (v128.load32_splat ${addr}))`);
      for (let v = 0; v < nv; v++)
        e(
          `        (local.set $c${i}${v} (f32x4.add (local.get $c${i}${v}) (f32x4.mul (local.get $s) (local.get $w${v}))))`,
        );
    }
    e(`        (local.set $pa (i32.add (local.get $pa) ${pStep}))`);
    e('        (local.set $wp (i32.add (local.get $wp) (local.get $cb)))');
    e('        (local.set $p (i32.add (local.get $p) (i32.const 1)))');
    e(`        (br $p${nv}l)))`);
    e('      (local.set $po (i32.add (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $cb)))');
    e('                              (i32.shl (local.get $j) (i32.const 2))))');
    for (let i = 0; i < 4; i++) {
      for (let v = 0; v < nv; v++)
        e(`      (v128.store offset=${16 * v} (local.get $po) (local.get $c${i}${v}))`);
      if (i < 3) e('      (local.set $po (i32.add (local.get $po) (local.get $cb)))');
    }
    e(`      (local.set $j (i32.add (local.get $j) (i32.const ${width})))`);
    e(`      (br $j${nv}l)))`);
  }
  e('    (local.set $r (i32.add (local.get $r) (i32.const 4)))');
  e('    (br $rl)))');
  e('  (if (i32.lt_u (local.get $r) (local.get $rows)) (then');
  e(
    `    (call $${transposedA ? 'atb1' : 'mm1'} (i32.add (local.get $a) (i32.mul (local.get $r) ${rowStep})) (local.get $w)`,
  );
  e('      (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $cb)))');
  e(
    `      (i32.sub (local.get $rows) (local.get $r)) (local.get $inner) (local.get $cols)${transposedA ? ' (local.get $rows)' : ''}))))`,
  );
  return L.join('\n');
}

const source = readFileSync(join(dir, 'lstm.wat'), 'utf8');
if (!source.includes(';; @mm')) throw new Error('lstm.wat has no ;; @mm line');
const wat = source.replace(/^ *;; @mm.*$/m, `${mmText('mm', false)}\n\n${mmText('atb', true)}`);
const { default: initWabt } = await import('wabt');
const wabt = await initWabt();
const features = { simd: true };
const mod = wabt.parseWat('lstm.wat', wat, features);
mod.validate(features);
const { buffer } = mod.toBinary({});
mod.destroy();
const bytes = Buffer.from(buffer);
const lines = bytes.toString('base64').match(/.{1,100}/g) ?? [];
writeFileSync(
  join(dir, 'wasm-module.generated.ts'),
  `// GENERATED by packages/tensor/scripts/build-lstm-wasm.mjs from lstm.wat. Do not edit: change lstm.wat
// and run \`node packages/tensor/scripts/build-lstm-wasm.mjs\`.

/** The module (${bytes.length} bytes): imports env.memory (unshared), exports fwd, bwd, colsum. */
export const LSTM_WASM_BASE64 =
${lines.map((l) => `  '${l}'`).join(' +\n')};
`,
);
console.log(`wrote ${bytes.length} bytes`);
